package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq"
)

// TestDelayedMessagesPauseTheRetryPartition sends more delayed messages
// than a partition may hold: the subscription moves them to its retry
// topic, holds them until due and pauses the retry partition while too
// many wait, and delivers every one, none early.
func TestDelayedMessagesPauseTheRetryPartition(t *testing.T) {
	old := holdCap
	holdCap = 20
	t.Cleanup(func() { holdCap = old })
	c := startCluster(t)
	ctx := t.Context()
	a, err := mq.OpenAdmin(ctx, "kafka://"+c.addr()+"/?partitions=1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "delayed", mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSubscription(ctx, "delayed", "s", mq.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "kafka://"+c.addr()+"/delayed")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ds, err := openSubscription(ctx, mustClient(t, c.addr()), false, "delayed", "s", &SubscriptionOptions{
		ClientOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(context.Background())

	const n = 100
	const delay = time.Second
	msgs := make([]*mq.Message, n)
	for i := range msgs {
		msgs[i] = &mq.Message{Body: []byte(strconv.Itoa(i)), Delay: delay}
	}
	sent := time.Now()
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var paused atomic.Bool
	watch, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for watch.Err() == nil {
			ds.mu.Lock()
			for _, g := range ds.groups {
				if m := g.m; m != nil {
					for _, pt := range m.parts {
						if pt.paused {
							paused.Store(true)
						}
					}
				}
			}
			ds.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	got := map[string]bool{}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(got) < n {
		d, err := sub.Receive(rctx)
		if err != nil {
			t.Fatalf("received %d of %d delayed messages: %v", len(got), n, err)
		}
		if early := delay - time.Since(sent); early > time.Millisecond {
			t.Errorf("message %s delivered %v early", d.Body, early)
		}
		if got[string(d.Body)] {
			t.Errorf("message %s delivered twice", d.Body)
		}
		got[string(d.Body)] = true
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if !paused.Load() {
		t.Errorf("the retry partition was never paused although %d messages waited (cap %d)", n, holdCap)
	}
}

func mustClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestShareLocksAreRenewedWhileHeld holds a share-group delivery for
// three times the broker's acquisition lock: the driver renews the lock,
// so another handle does not get the record meanwhile and the ack at the
// end succeeds.
func TestShareLocksAreRenewedWhileHeld(t *testing.T) {
	// The driver renews at half the lock; 1.5 s leaves a renewal 750 ms to
	// get through a loaded CI machine (500 ms once failed under -race with
	// every package's tests running).
	const lock = 1500 * time.Millisecond
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{
		"share.record.lock.sweep.interval.ms": "20",
		"group.share.record.lock.duration.ms": strconv.Itoa(int(lock / time.Millisecond)),
		"group.share.heartbeat.interval.ms":   "100",
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	addr := kc.ListenAddrs()[0]
	topicURL, topic, group := provisionOne(t, addr, ShareMode, "renew")
	p, err := mq.OpenProducer(t.Context(), topicURL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	u := fmt.Sprintf("kafka://%s/%s?mode=share&subscription=%s&lease=10s&fetch_max_wait=100ms", addr, topic, group)
	holder, err := mq.OpenSubscription(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Shutdown(context.Background())
	other, err := mq.OpenSubscription(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown(context.Background())
	if err := p.Send(t.Context(), &mq.Message{Body: []byte("held")}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	d, err := holder.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 3*lock)
	defer wcancel()
	if d2, err := other.Receive(wctx); err == nil {
		t.Errorf("another handle got %q (attempt %d) while the first held it for %v (lock %v)", d2.Body, d2.Attempt, 3*lock, lock)
	}
	if err := d.Ack(); err != nil {
		t.Errorf("Ack after holding the delivery for %v: %v", 3*lock, err)
	}
	wctx2, wcancel2 := context.WithTimeout(t.Context(), 3*lock)
	defer wcancel2()
	if d2, err := other.Receive(wctx2); err == nil {
		t.Errorf("the acked message came again: %q (attempt %d)", d2.Body, d2.Attempt)
	}
}

// TestSeekFromAHandleOutOfTheGroup seeks with a handle that never
// received: it commits the offsets for the group, and a handle that
// receives afterwards replays. With another handle consuming, the seek
// fails with FailedPrecondition.
func TestSeekFromAHandleOutOfTheGroup(t *testing.T) {
	c := startCluster(t)
	topicURL, topic, group := provisionOne(t, c.addr(), GroupMode, "seek-out")
	ctx := t.Context()
	p, err := mq.OpenProducer(ctx, topicURL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	u := fmt.Sprintf("kafka://%s/%s?subscription=%s&idle_leave=100ms&heartbeat_interval=100ms&fetch_max_wait=100ms", c.addr(), topic, group)
	for i := range 3 {
		if err := p.Send(ctx, &mq.Message{Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := mq.OpenSubscription(ctx, strings.Replace(u, "idle_leave=100ms", "idle_leave=1m", 1))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := reader.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Ack()
		var rec *kgo.Record // the native record, through Delivery.As
		if !d.As(&rec) || rec.Topic != topic || string(rec.Value) != string(d.Body) || d.ID != fmt.Sprintf("%d-%d", rec.Partition, rec.Offset) {
			t.Errorf("Delivery.As(**kgo.Record) = %v, %+v for delivery %s", rec != nil, rec, d.ID)
		}
	}
	seeker, err := mq.OpenSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer seeker.Shutdown(context.Background())
	// reader is in the group: the seeker, out of it, cannot move it.
	if err := seeker.Seek(ctx, time.Now().Add(-time.Hour)); mq.Code(err) != mq.FailedPrecondition {
		t.Errorf("Seek while another handle consumes = %v (code %v), want FailedPrecondition", err, mq.Code(err))
	}
	if err := reader.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := seeker.Seek(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatalf("Seek from a handle out of an empty group: %v", err)
	}
	got := map[string]bool{}
	for len(got) < 3 {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := seeker.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("replayed %d of 3 messages: %v", len(got), err)
		}
		got[string(d.Body)] = true
		_ = d.Ack()
	}
}
