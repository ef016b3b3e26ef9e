package memdriver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestDedupWindowDropsRepeatsAndExpires(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	tp := v.topic("t", &driver.TopicConfig{DedupWindow: time.Minute})
	first := send(t, tp, driver.Message{Body: []byte("1"), DedupID: "x"}, driver.Message{Body: []byte("2"), DedupID: "x"})
	if first[0] != first[1] {
		t.Fatalf("duplicate in batch got ID %q, want %q", first[1], first[0])
	}
	v.clk.Advance(time.Minute - 1)
	dup := send(t, tp, driver.Message{Body: []byte("3"), DedupID: "x"}, driver.Message{Body: []byte("4")}, driver.Message{Body: []byte("5")})
	if dup[0] != first[0] || dup[1] == dup[2] {
		t.Fatalf("IDs %v, first %v", dup, first)
	}
	v.clk.Advance(1)
	after := send(t, tp, driver.Message{Body: []byte("6"), DedupID: "x"})
	if after[0] == first[0] {
		t.Fatal("repeat after the window was dropped")
	}
	got := bodies(poll(t, s, 10))
	if want := []string{"1", "4", "5", "6"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func TestDedupWindowIsFixedOnceSet(t *testing.T) {
	v := newEnv(t)
	v.sub("t", "s", nil, nil) // creates the topic without a window
	v.topic("t", &driver.TopicConfig{DedupWindow: time.Minute})
	v.topic("t", nil)
	v.topic("t", &driver.TopicConfig{DedupWindow: time.Minute})
	_, err := v.e.OpenTopic("t", &driver.TopicConfig{DedupWindow: time.Hour})
	wantCode(t, err, driver.FailedPrecondition)
}

func TestFanOutToEverySubscriptionCreatedBeforeTheSend(t *testing.T) {
	v := newEnv(t)
	tp := v.topic("t", nil)
	sendBodies(t, tp, "before")
	a := v.sub("t", "a", nil, nil)
	b := v.sub("t", "b", nil, nil)
	sendBodies(t, tp, "x", "y")
	for _, s := range []driver.Subscription{a, b} {
		if got := bodies(poll(t, s, 10)); !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("%s got %v", s.Info().Name, got)
		}
	}
}

func TestCompetingHandlesGetDistinctMessages(t *testing.T) {
	v := newEnv(t)
	a := v.sub("t", "s", nil, nil)
	b := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "1", "2", "3", "4")
	ga := bodies(poll(t, a, 2))
	gb := bodies(poll(t, b, 10))
	all := append(ga, gb...)
	slices.Sort(all)
	if !slices.Equal(all, []string{"1", "2", "3", "4"}) || len(ga) != 2 {
		t.Fatalf("a got %v, b got %v", ga, gb)
	}
}

func TestMessagesAreDeliveredInSendOrder(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	tp := v.topic("t", nil)
	var want []string
	for i := range 40 { // more than one send chunk and ring growth
		want = append(want, string(rune('A'+i)))
	}
	sendBodies(t, tp, want...)
	if got := bodies(poll(t, s, 100)); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestSendRejectsOversizedBodies(t *testing.T) {
	v := newEnv(t)
	tp, err := v.e.openTopic("t", nil, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	err = tp.SendBatch(context.Background(), []driver.Message{{Body: []byte("12345")}})
	wantCode(t, err, driver.InvalidArgument)
	if got := tp.Capabilities().MaxBodySize; got != 4 {
		t.Fatalf("MaxBodySize %d", got)
	}
	if got := v.topic("u", nil).Capabilities().MaxBodySize; got != DefaultMaxBodySize {
		t.Fatalf("default MaxBodySize %d", got)
	}
}

func TestTopicHandleAfterClose(t *testing.T) {
	v := newEnv(t)
	tp, _ := v.e.OpenTopic("t", nil)
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, tp.SendBatch(context.Background(), []driver.Message{{}}), driver.Closed)
	wantCode(t, tp.Close(), driver.Closed)
}

func TestOrderedKeyIsBlockedByANackedMessageButOthersFlow(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Ordered: true}, nil)
	if !s.Info().Ordered {
		t.Fatal("Info().Ordered false")
	}
	send(t, v.topic("t", nil),
		driver.Message{Body: []byte("a1"), Key: "a"},
		driver.Message{Body: []byte("a2"), Key: "a"},
		driver.Message{Body: []byte("b1"), Key: "b"},
		driver.Message{Body: []byte("n1")},
		driver.Message{Body: []byte("b2"), Key: "b"},
		driver.Message{Body: []byte("n2")},
	)
	first := poll(t, s, 10)
	if got := bodies(first); !slices.Equal(got, []string{"a1", "b1", "n1", "n2"}) {
		t.Fatalf("first round %v", got)
	}
	nack(t, s, time.Second, first[0]) // a1 back, a blocked
	ack(t, s, first[1])               // b1 done, b2 flows
	if got := bodies(poll(t, s, 10)); !slices.Equal(got, []string{"b2"}) {
		t.Fatalf("after nack a1, ack b1: %v", got)
	}
	v.clk.Advance(time.Second)
	a1 := pollOne(t, s)
	if string(a1.Body) != "a1" || a1.Attempt != 2 {
		t.Fatalf("got %q attempt %d", a1.Body, a1.Attempt)
	}
	ack(t, s, a1)
	if got := pollOne(t, s); string(got.Body) != "a2" {
		t.Fatalf("got %q", got.Body)
	}
}

func TestOrderedKeyWaitsForAnExpiredLease(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Ordered: true, Lease: time.Second}, nil)
	send(t, v.topic("t", nil), driver.Message{Body: []byte("1"), Key: "k"}, driver.Message{Body: []byte("2"), Key: "k"})
	pollOne(t, s)
	v.clk.Advance(time.Second)
	m := pollOne(t, s)
	if string(m.Body) != "1" {
		t.Fatalf("got %q", m.Body)
	}
	ack(t, s, m)
	if m := pollOne(t, s); string(m.Body) != "2" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestOrderedDeadLetterReleasesTheKey(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Ordered: true, MaxAttempts: 1}, nil)
	send(t, v.topic("t", nil), driver.Message{Body: []byte("1"), Key: "k"}, driver.Message{Body: []byte("2"), Key: "k"})
	nack(t, s, 0, pollOne(t, s))
	if m := pollOne(t, s); string(m.Body) != "2" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestSeekReplaysRetainedMessages(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Retention: time.Hour}, nil)
	tp := v.topic("t", nil)
	sendBodies(t, tp, "old")
	v.clk.Advance(time.Minute)
	mark := v.clk.Now()
	sendBodies(t, tp, "new1", "new2")
	ms := poll(t, s, 10)
	nack(t, s, 0, ms[2])
	ack(t, s, ms[0], ms[1])
	again := pollOne(t, s) // new2, attempt 2
	ack(t, s, again)
	pollNone(t, s)
	if err := s.(driver.Seeker).Seek(context.Background(), mark); err != nil {
		t.Fatal(err)
	}
	got := poll(t, s, 10)
	if b := bodies(got); !slices.Equal(b, []string{"new1", "new2"}) {
		t.Fatalf("replayed %v", b)
	}
	for _, m := range got {
		if m.Attempt != 1 {
			t.Fatalf("%s attempt %d, want 1", m.Body, m.Attempt)
		}
	}
	ack(t, s, got...)
	v.clk.Advance(time.Hour) // retention ends
	if err := s.(driver.Seeker).Seek(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	pollNone(t, s)
}

func TestSeekWithoutRetentionIsFailedPrecondition(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	wantCode(t, s.(driver.Seeker).Seek(context.Background(), t0), driver.FailedPrecondition)
}

func TestRetentionPrunesOldAckedMessages(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Retention: time.Minute}, nil)
	tp := v.topic("t", nil)
	for range 3 * pruneMin {
		sendBodies(t, tp, "m")
		ack(t, s, pollOne(t, s))
		v.clk.Advance(time.Second)
	}
	sub := s.(*subHandle).s
	sub.mu.Lock()
	n := len(sub.retained)
	sub.mu.Unlock()
	if n > 2*pruneMin {
		t.Fatalf("%d retained, want pruning", n)
	}
}
