package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/mq"
)

func TestAdminCreatesAndDeletes(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 30*time.Second)
	a, err := mq.OpenAdmin(ctx, base)
	must(t, err)
	defer a.Close()
	if err := a.CreateSubscription(ctx, "nope", "s", mq.SubscriptionConfig{}); mq.Code(err) != mq.NotFound {
		t.Errorf("CreateSubscription on a missing topic: %v, want NotFound", err)
	}
	must(t, a.CreateTopic(ctx, "t", mq.TopicConfig{}))
	if err := a.CreateTopic(ctx, "t", mq.TopicConfig{}); !errors.Is(err, mq.ErrAlreadyExists) {
		t.Errorf("CreateTopic twice: %v, want AlreadyExists", err)
	}
	cfg := mq.SubscriptionConfig{Lease: 3 * time.Second, MaxAttempts: 4, DeadLetterTopic: "t-dlq", Ordered: true}
	must(t, a.CreateSubscription(ctx, "t", "s", cfg))
	if err := a.CreateSubscription(ctx, "t", "s", cfg); !errors.Is(err, mq.ErrAlreadyExists) {
		t.Errorf("CreateSubscription twice: %v, want AlreadyExists", err)
	}
	if err := a.CreateSubscription(ctx, "t", "s2", mq.SubscriptionConfig{MaxAttempts: 3}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("max attempts without a dead-letter topic: %v, want InvalidArgument", err)
	}
	// The subscription's handles take the stored settings.
	sub, err := mq.OpenSubscription(ctx, subURL(base, "t", "s"))
	must(t, err)
	info := sub.Info()
	if info.Lease != cfg.Lease || info.MaxAttempts != 4 || !info.Ordered || !info.HasDeadLetter {
		t.Errorf("Info() = %+v, want the stored settings %+v", info, cfg)
	}
	must(t, sub.Shutdown(ctx))
	// and the URL overrides them.
	sub, err = mq.OpenSubscription(ctx, subURL(base, "t", "s", "lease", "1s", "max_attempts", "0"))
	must(t, err)
	if info := sub.Info(); info.Lease != time.Second || info.MaxAttempts != 0 {
		t.Errorf("Info() = %+v, want lease 1s and no max attempts from the URL", info)
	}
	must(t, sub.Shutdown(ctx))

	must(t, a.DeleteSubscription(ctx, "t", "s"))
	if err := a.DeleteSubscription(ctx, "t", "s"); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("DeleteSubscription twice: %v, want NotFound", err)
	}
	if _, err := mq.OpenSubscription(ctx, subURL(base, "t", "s")); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("OpenSubscription of a deleted subscription: %v, want NotFound", err)
	}
	must(t, a.DeleteTopic(ctx, "t"))
	if err := a.DeleteTopic(ctx, "t"); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("DeleteTopic twice: %v, want NotFound", err)
	}
	if _, err := mq.OpenProducer(ctx, withQuery(base, "topic", "t")); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("OpenProducer of a deleted topic: %v, want NotFound", err)
	}
	c := rawClient(nil)
	defer c.Close()
	p := prefixOf(t, base)
	keys, err := c.Keys(ctx, p+":t:*").Result()
	must(t, err)
	if n, _ := c.Exists(ctx, p+":t").Result(); n != 0 || len(keys) != 0 {
		t.Errorf("DeleteTopic left keys: stream %d, others %v", n, keys)
	}
	must(t, a.DeleteTopic(ctx, "t-dlq")) // a topic of its own
}

// A nack puts the copy in the subscription's own retry stream: another
// subscription of the topic does not get the message again.
func TestNackRedeliversToItsSubscriptionOnly(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{Lease: 10 * time.Second}, "a", "b")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	subA := openSub(t, subURL(base, "t", "a"))
	subB := openSub(t, subURL(base, "t", "b"))
	m := &mq.Message{Body: []byte("x"), Attributes: map[string]string{"k": "v"}}
	must(t, p.Send(ctx, m))
	for i := 1; i <= 3; i++ {
		d, err := subA.Receive(ctx)
		must(t, err)
		if d.ID != m.ID || d.Attempt != i || d.Attributes["k"] != "v" {
			t.Errorf("delivery %d: ID %s attempt %d attrs %v published %v", i, d.ID, d.Attempt, d.Attributes, d.PublishedAt)
		}
		if i < 3 {
			must(t, d.Nack(0))
		} else {
			must(t, d.Ack())
		}
	}
	d, err := subB.Receive(ctx)
	must(t, err)
	if d.ID != m.ID || d.Attempt != 1 {
		t.Errorf("subscription b: ID %s attempt %d, want %s attempt 1", d.ID, d.Attempt, m.ID)
	}
	must(t, d.Ack())
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if d, err := subB.Receive(qctx); err == nil {
		t.Errorf("subscription b got %s (attempt %d) again after a's nacks", d.ID, d.Attempt)
	}
}

// An unacked entry trimmed from the stream is lost; the reaper counts it.
func TestTrimmedPendingEntryIsCountedAsLost(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{Lease: 100 * time.Millisecond}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	sub := openSub(t, subURL(base, "t", "s"))
	var ds *redis.Subscription
	if !sub.As(&ds) {
		t.Fatal("Subscription.As(**redis.Subscription) = false")
	}
	must(t, p.Send(ctx, &mq.Message{Body: []byte("doomed")}))
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	c := rawClient(nil)
	defer c.Close()
	must(t, c.XTrimMaxLen(ctx, prefixOf(t, base)+":t", 0).Err()) // exact: the entry goes
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ds.Lost() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the trimmed pending entry was never counted as lost")
		case <-tick.C:
		}
	}
	if n := ds.Lost(); n != 1 {
		t.Errorf("Lost() = %d, want 1", n)
	}
}

// A delayed message waits in the topic's delay set, in Redis: the mover of
// a subscription's process delivers it after its producer is gone.
func TestDelayedMessageOutlivesItsProducer(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{}, "s")
	ctx := ctxFor(t, 30*time.Second)
	sub := openSub(t, subURL(base, "t", "s"))
	p, err := mq.OpenProducer(ctx, withQuery(base, "topic", "t"))
	must(t, err)
	const delay = 300 * time.Millisecond
	m := &mq.Message{Body: []byte("later"), Delay: delay}
	must(t, p.Send(ctx, m))
	sent := time.Now()
	must(t, p.Shutdown(ctx))
	d, err := sub.Receive(ctx)
	must(t, err)
	if early := delay - time.Since(sent); early > 0 {
		t.Errorf("delivered %v early", early)
	}
	if d.ID != m.ID || string(d.Body) != "later" || d.Attempt != 1 {
		t.Errorf("got %s %q attempt %d, want %s", d.ID, d.Body, d.Attempt, m.ID)
	}
	must(t, d.Ack())
}

func TestDedupWindowDropsRepeatedDedupID(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t", "dedup", "1m"))
	a, b, c := &mq.Message{Body: []byte("1"), DedupID: "x"}, &mq.Message{Body: []byte("2"), DedupID: "x"}, &mq.Message{Body: []byte("3"), DedupID: "y"}
	must(t, p.SendBatch(ctx, []*mq.Message{a, b, c}))
	if a.ID == "" || b.ID != a.ID || c.ID == a.ID {
		t.Errorf("IDs %q %q %q: the duplicate should get the first message's ID", a.ID, b.ID, c.ID)
	}
	sub := openSub(t, subURL(base, "t", "s"))
	// The subscription was created before the sends, so it gets them.
	for _, want := range []string{"1", "3"} {
		d, err := sub.Receive(ctx)
		must(t, err)
		if string(d.Body) != want {
			t.Errorf("got %q, want %q", d.Body, want)
		}
		must(t, d.Ack())
	}
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if d, err := sub.Receive(qctx); err == nil {
		t.Errorf("the duplicate %q was delivered", d.Body)
	}
}

// A stream and group made without the Admin (redis-cli XGROUP CREATE
// ... MKSTREAM) work too: the driver adds the retry stream's group.
func TestGroupCreatedWithoutAdmin(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 30*time.Second)
	c := rawClient(nil)
	defer c.Close()
	must(t, c.XGroupCreateMkStream(ctx, prefixOf(t, base)+":plain", "g", "$").Err())
	sub := openSub(t, subURL(base, "plain", "g"))
	p := openProducer(t, withQuery(base, "topic", "plain"))
	must(t, p.Send(ctx, &mq.Message{Body: []byte("hi")}))
	d, err := sub.Receive(ctx)
	must(t, err)
	must(t, d.Nack(0))
	d, err = sub.Receive(ctx)
	must(t, err)
	if string(d.Body) != "hi" || d.Attempt != 2 {
		t.Errorf("got %q attempt %d, want hi attempt 2", d.Body, d.Attempt)
	}
	must(t, d.Ack())
}

// Extend sets the lease to end the given time from now (XCLAIM IDLE): a
// short extension makes the reaper redeliver sooner than the
// subscription's lease.
func TestExtendSetsLeaseFromNow(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{Lease: 20 * time.Second}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	sub := openSub(t, subURL(base, "t", "s"))
	must(t, p.Send(ctx, &mq.Message{Body: []byte("x")}))
	d, err := sub.Receive(ctx)
	must(t, err)
	must(t, d.Extend(200*time.Millisecond))
	extended := time.Now()
	// The reaper looks every quarter of the 20 s lease (5 s): the
	// redelivery comes within one look after the 200 ms.
	rctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	again, err := sub.Receive(rctx)
	if err != nil {
		t.Fatalf("no redelivery after a 200ms extension of a 20s lease: %v", err)
	}
	if after := time.Since(extended); after < 200*time.Millisecond {
		t.Errorf("redelivered %v after a 200ms extension", after)
	}
	if again.ID != d.ID || again.Attempt != 2 {
		t.Errorf("redelivery %s attempt %d, want %s attempt 2", again.ID, again.Attempt, d.ID)
	}
	if err := d.Ack(); !errors.Is(err, mq.ErrLeaseExpired) {
		t.Errorf("Ack of the first delivery after its redelivery: %v, want ErrLeaseExpired", err)
	}
	must(t, again.Ack())
}

func TestDeadLetterWithoutDestinationIsUnsupported(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	sub := openSub(t, subURL(base, "t", "s"))
	must(t, p.Send(ctx, &mq.Message{Body: []byte("x")}))
	d, err := sub.Receive(ctx)
	must(t, err)
	if err := d.DeadLetter("no place"); !errors.Is(err, mq.ErrUnsupported) {
		t.Errorf("DeadLetter without a dead-letter topic: %v, want ErrUnsupported", err)
	}
}

// openProducer opens a Producer of u, shut down when the test ends.
func openProducer(t *testing.T, u string) *mq.Producer {
	t.Helper()
	p, err := mq.OpenProducer(context.Background(), u)
	must(t, err)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// openSub opens a Subscription of u, shut down when the test ends.
func openSub(t *testing.T, u string) *mq.Subscription {
	t.Helper()
	s, err := mq.OpenSubscription(context.Background(), u)
	must(t, err)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// On an ordered subscription, a message in flight that is trimmed from
// the stream lets go of its key: the next message of the key comes.
func TestTrimmedHolderReleasesItsKey(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{Lease: 200 * time.Millisecond, Ordered: true}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	must(t, p.SendBatch(ctx, []*mq.Message{{Body: []byte("a1"), Key: "a"}, {Body: []byte("a2"), Key: "a"}}))
	sub := openSub(t, subURL(base, "t", "s"))
	d, err := sub.Receive(ctx)
	must(t, err)
	if string(d.Body) != "a1" {
		t.Fatalf("got %q first, want a1", d.Body)
	}
	c := rawClient(nil)
	defer c.Close()
	must(t, c.XTrimMaxLen(ctx, prefixOf(t, base)+":t", 0).Err())
	trimmed := time.Now()
	d, err = sub.Receive(ctx)
	must(t, err)
	t.Logf("a2 came %v after a1 was trimmed (lease 200ms)", time.Since(trimmed).Round(time.Millisecond))
	if string(d.Body) != "a2" {
		t.Fatalf("got %q after a1 was trimmed, want a2", d.Body)
	}
	must(t, d.Ack())
	var ds *redis.Subscription
	if sub.As(&ds); ds.Lost() != 1 {
		t.Errorf("Lost() = %d, want 1", ds.Lost())
	}
}

func TestBacklogCountsWaitingMessages(t *testing.T) {
	base := serverURL(t)
	setup(t, base, "t", mq.SubscriptionConfig{}, "s")
	ctx := ctxFor(t, 30*time.Second)
	p := openProducer(t, withQuery(base, "topic", "t"))
	sub := openSub(t, subURL(base, "t", "s", "lease", "30s"))
	backlog := func(want int64, when string) {
		t.Helper()
		n, err := sub.Backlog(ctx)
		must(t, err)
		if n != want {
			t.Errorf("Backlog %s = %d, want %d", when, n, want)
		}
	}
	backlog(0, "of a new subscription")
	must(t, p.SendBatch(ctx, []*mq.Message{{Body: []byte("1")}, {Body: []byte("2")}, {Body: []byte("3")}}))
	backlog(3, "after 3 sends")
	ds, err := sub.ReceiveBatch(ctx, 3)
	must(t, err)
	backlog(3-int64(len(ds)), fmt.Sprintf("with %d in flight", len(ds)))
	must(t, ds[0].Nack(time.Minute))
	backlog(4-int64(len(ds)), "with one nacked for a minute")
	for _, d := range ds[1:] {
		must(t, d.Nack(0))
	}
	backlog(3, "with the others nacked at once")
}
