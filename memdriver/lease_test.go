package memdriver

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestDeliveryCarriesMessageFields(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: 10 * time.Second}, nil)
	tp := v.topic("t", nil)
	body := []byte("hello")
	attrs := map[string]string{"a": "1"}
	ids := send(t, tp, driver.Message{Body: body, Attributes: attrs, Key: "k", DedupID: "d"})
	body[0] = 'X' // the caller may reuse its buffer
	attrs["a"] = "changed"
	m := pollOne(t, s)
	switch {
	case string(m.Body) != "hello":
		t.Errorf("Body = %q", m.Body)
	case m.Attributes["a"] != "1":
		t.Errorf("Attributes = %v", m.Attributes)
	case m.Key != "k", m.DedupID != "d":
		t.Errorf("Key, DedupID = %q, %q", m.Key, m.DedupID)
	case m.ID != ids[0] || m.ID == "":
		t.Errorf("ID = %q, sent %q", m.ID, ids[0])
	case m.Attempt != 1:
		t.Errorf("Attempt = %d", m.Attempt)
	case !m.PublishedAt.Equal(t0):
		t.Errorf("PublishedAt = %v", m.PublishedAt)
	case !m.Deadline.Equal(t0.Add(10 * time.Second)):
		t.Errorf("Deadline = %v", m.Deadline)
	case m.Native != nil:
		t.Error("Native set")
	}
}

func TestLeaseExpiryRedeliversWithAttemptPlusOne(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: 10 * time.Second}, nil)
	sendBodies(t, v.topic("t", nil), "m")
	first := pollOne(t, s)
	v.clk.Advance(10*time.Second - 1)
	pollNone(t, s)
	v.clk.Advance(1)
	again := pollOne(t, s)
	if again.Attempt != 2 || again.ID != first.ID {
		t.Fatalf("redelivery: attempt %d id %q, want 2 %q", again.Attempt, again.ID, first.ID)
	}
	if err := s.Ack(context.Background(), []driver.AckID{first.AckID}); !errors.Is(err, driver.ErrLeaseExpired()) && driver.CodeOf(err) != driver.FailedPrecondition {
		t.Fatalf("stale ack: %v", err)
	}
	ack(t, s, again)
}

func TestLeaseExpiryWakesABlockedReceiver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: time.Second}, nil)
		sendBodies(t, v.topic("t", nil), "m")
		pollOne(t, s)
		got := make(chan driver.Message)
		go func() {
			dst := make([]driver.Message, 1)
			if n, err := s.ReceiveBatch(context.Background(), dst); err == nil && n == 1 {
				got <- dst[0]
			}
			close(got)
		}()
		waitForWaiter(t, s)
		v.clk.Advance(time.Second)
		m, ok := <-got
		if !ok || m.Attempt != 2 {
			t.Fatalf("blocked receiver got %+v, %v", m, ok)
		}
	})
}

// waitForWaiter waits until a ReceiveBatch call blocks on s. It must run
// in a synctest bubble.
func waitForWaiter(t *testing.T, s driver.Subscription) {
	t.Helper()
	synctest.Wait()
	sub := s.(*subHandle).s
	sub.mu.Lock()
	n := len(sub.waiters)
	sub.mu.Unlock()
	if n == 0 {
		t.Fatal("no receiver blocked")
	}
}

func TestAckIsFinal(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: time.Second}, nil)
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	ack(t, s, m)
	v.clk.Advance(time.Hour)
	pollNone(t, s)
	err := s.Ack(context.Background(), []driver.AckID{m.AckID})
	wantCode(t, err, driver.FailedPrecondition)
}

func TestStaleAckAfterExpiryIsFailedPrecondition(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: time.Second, MaxAttempts: 5}, nil)
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	v.clk.Advance(time.Second) // expires; not redelivered yet
	for name, call := range map[string]func() error{
		"ack":  func() error { return s.Ack(context.Background(), []driver.AckID{m.AckID}) },
		"nack": func() error { return s.Nack(context.Background(), []driver.AckID{m.AckID}, 0) },
		"extend": func() error {
			return s.(driver.Extender).Extend(context.Background(), []driver.AckID{m.AckID}, time.Minute)
		},
		"dead-letter": func() error {
			return s.(driver.DeadLetterer).DeadLetter(context.Background(), []driver.DeadLetter{{AckID: m.AckID}})
		},
	} {
		err := call()
		var de *driver.Error
		if !errors.As(err, &de) || de.Code != driver.FailedPrecondition || de.Msg != driver.MsgLeaseExpired {
			t.Errorf("%s of expired delivery: %v, want ErrLeaseExpired", name, err)
		}
	}
	if again := pollOne(t, s); again.Attempt != 2 {
		t.Fatalf("attempt %d", again.Attempt)
	}
}

func TestUnknownAckIDsAreFailedPrecondition(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	other := v.sub("t", "other", nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	foreign := pollOne(t, other)
	for _, id := range []driver.AckID{{}, {Ref: "x", Seq: 1}, {Ref: (*entry)(nil)}, foreign.AckID} {
		wantCode(t, s.Ack(context.Background(), []driver.AckID{id}), driver.FailedPrecondition)
	}
}

func TestMixedAckReturnsBatchError(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "a", "b")
	ms := poll(t, s, 2)
	ack(t, s, ms[0])
	err := s.Ack(context.Background(), []driver.AckID{ms[0].AckID, ms[1].AckID})
	var be *driver.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 2 {
		t.Fatalf("err = %v, want *BatchError of 2", err)
	}
	wantCode(t, be.Errs[0], driver.FailedPrecondition)
	if be.Errs[1] != nil {
		t.Fatalf("item 1: %v", be.Errs[1])
	}
	pollNone(t, s)
	v.clk.Advance(time.Hour)
	pollNone(t, s) // b was acked by the partial batch
}

func TestExtendPreventsRedelivery(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: 10 * time.Second}, nil)
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	v.clk.Advance(9 * time.Second)
	if err := s.(driver.Extender).Extend(context.Background(), []driver.AckID{m.AckID}, time.Minute); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(time.Minute - time.Nanosecond)
	pollNone(t, s)
	v.clk.Advance(time.Nanosecond)
	if got := pollOne(t, s); got.Attempt != 2 {
		t.Fatalf("attempt %d", got.Attempt)
	}
}

func TestExtendCanShortenTheLease(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: time.Hour}, nil)
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	if err := s.(driver.Extender).Extend(context.Background(), []driver.AckID{m.AckID}, time.Second); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(time.Second)
	pollOne(t, s)
}

func TestNackDelayIsNotRedeliveredEarly(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	nack(t, s, 5*time.Second, m)
	v.clk.Advance(5*time.Second - time.Nanosecond)
	pollNone(t, s)
	v.clk.Advance(time.Nanosecond)
	if got := pollOne(t, s); got.Attempt != 2 {
		t.Fatalf("attempt %d", got.Attempt)
	}
}

func TestNackZeroRedeliversAtOnce(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	nack(t, s, 0, pollOne(t, s))
	if got := pollOne(t, s); got.Attempt != 2 {
		t.Fatalf("attempt %d", got.Attempt)
	}
}

func TestDelayedMessageIsNotDeliveredBeforeItsDelay(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	send(t, v.topic("t", nil), driver.Message{Body: []byte("later"), Delay: time.Minute}, driver.Message{Body: []byte("now")})
	now := pollOne(t, s)
	if string(now.Body) != "now" {
		t.Fatalf("got %q", now.Body)
	}
	ack(t, s, now)
	v.clk.Advance(time.Minute - 1)
	pollNone(t, s)
	v.clk.Advance(1)
	if got := pollOne(t, s); string(got.Body) != "later" || got.Attempt != 1 {
		t.Fatalf("got %q attempt %d", got.Body, got.Attempt)
	}
}

func TestCloseReturnsUnsettledDeliveries(t *testing.T) {
	v := newEnv(t)
	a, err := v.e.OpenSubscription("t", "s", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "x", "y")
	ms := poll(t, a, 2)
	ack(t, a, ms[0])
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got := pollOne(t, b)
	if string(got.Body) != "y" || got.Attempt != 2 {
		t.Fatalf("got %q attempt %d", got.Body, got.Attempt)
	}
	wantCode(t, a.Ack(context.Background(), nil), driver.Closed)
	_, err = a.ReceiveBatch(context.Background(), make([]driver.Message, 1))
	wantCode(t, err, driver.Closed)
	wantCode(t, a.Close(), driver.Closed)
}

func TestCloseUnblocksReceiveBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		s, err := v.e.OpenSubscription("t", "s", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error)
		go func() {
			_, err := s.ReceiveBatch(context.Background(), make([]driver.Message, 4))
			errc <- err
		}()
		waitForWaiter(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wantCode(t, <-errc, driver.Closed)
	})
}

func TestReceiveBatchReturnsContextError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		s := v.sub("t", "s", nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() {
			_, err := s.ReceiveBatch(ctx, make([]driver.Message, 4))
			errc <- err
		}()
		waitForWaiter(t, s)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		// A wake-up is not lost to the canceled call.
		sendBodies(t, v.topic("t", nil), "m")
		n, err := s.ReceiveBatch(context.Background(), make([]driver.Message, 4))
		if n != 1 || err != nil {
			t.Fatalf("n, err = %d, %v", n, err)
		}
	})
}

func TestReceiveBatchWakesOnSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		s := v.sub("t", "s", nil, nil)
		got := make(chan int)
		go func() {
			n, _ := s.ReceiveBatch(context.Background(), make([]driver.Message, 4))
			got <- n
		}()
		waitForWaiter(t, s)
		sendBodies(t, v.topic("t", nil), "a", "b")
		if n := <-got; n < 1 {
			t.Fatalf("n = %d", n)
		}
	})
}
