package mq_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq"
)

var consumerSeq atomic.Int64

// openPair opens a fresh mem topic and subscription with the given query,
// on mux's engine.
func openPair(t *testing.T, mux *mq.URLMux, query string) (*mq.Producer, *mq.Subscription, string) {
	t.Helper()
	ctx := context.Background()
	topic := fmt.Sprintf("consumer-%d", consumerSeq.Add(1))
	sub, err := mux.OpenSubscription(ctx, "mem://"+topic+"/s"+query)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mux.OpenProducer(ctx, "mem://"+topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Shutdown(ctx)
		_ = sub.Shutdown(ctx)
	})
	return p, sub, topic
}

// runConsumer starts c and returns a stop function that shuts it down and
// checks Run's result.
func runConsumer(t *testing.T, c *mq.Consumer) func() {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(context.Background()) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor moves clk a millisecond at a time, letting the bubble's
// goroutines settle after each step, until cond holds; it fails after
// 10 s of fake time. It must run in a synctest bubble.
func waitFor(t *testing.T, clk *clock.Fake, what string, cond func() bool) {
	t.Helper()
	for range 10000 {
		synctest.Wait()
		if cond() {
			return
		}
		clk.Advance(time.Millisecond)
	}
	t.Fatalf("no %s within 10 s on the fake clock", what)
}

// advance moves clk by d a millisecond at a time, letting the bubble's
// goroutines settle after each step (they may arm timers that fall due
// within d).
func advance(clk *clock.Fake, d time.Duration) {
	for ; d > 0; d -= time.Millisecond {
		synctest.Wait()
		clk.Advance(min(d, time.Millisecond))
	}
	synctest.Wait()
}

func TestConsumerTurnsHandlerPanicIntoRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk, mux := fakeMem(t)
		p, sub, _ := openPair(t, mux, "")
		var calls atomic.Int32
		c, err := mq.NewConsumer(sub, func(_ context.Context, d *mq.Delivery) error {
			if calls.Add(1) == 1 {
				panic("boom")
			}
			return nil
		}, mq.WithBackoff(mq.Backoff{Min: time.Millisecond, Max: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		if err := p.Send(context.Background(), &mq.Message{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, clk, "the retry to succeed", func() bool { return c.Stats().Acked == 1 })
		if s := c.Stats(); s.Retried != 1 || calls.Load() != 2 {
			t.Errorf("stats %+v, calls %d; want one retry and two calls", s, calls.Load())
		}
	})
}

func TestConsumerExtendsTheLeaseWhileTheHandlerRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk, mux := fakeMem(t)
		p, sub, _ := openPair(t, mux, "?visibility=60ms")
		var calls atomic.Int32
		release := make(chan struct{})
		c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
			calls.Add(1)
			<-release
			return nil
		}, mq.WithConcurrency(2))
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		if err := p.Send(context.Background(), &mq.Message{Body: []byte("slow")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, clk, "the handler to start", func() bool { return calls.Load() == 1 })
		// Hold the handler for many leases; an idle second worker would get the
		// message again if the lease were not extended.
		advance(clk, 400*time.Millisecond)
		close(release)
		waitFor(t, clk, "the ack", func() bool { return c.Stats().Acked == 1 })
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times; the lease was not kept", n)
		}
	})
}

func TestConsumerStopsExtendingAfterMaxExtension(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk, mux := fakeMem(t)
		p, sub, _ := openPair(t, mux, "?visibility=50ms")
		var calls atomic.Int32
		release := make(chan struct{})
		c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
			if calls.Add(1) == 1 {
				<-release
			}
			return nil
		}, mq.WithConcurrency(2), mq.WithMaxExtension(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		if err := p.Send(context.Background(), &mq.Message{Body: []byte("stuck")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, clk, "the redelivery after max extension", func() bool { return calls.Load() == 2 })
		close(release)
	})
}

func TestConsumerRunTwiceAndShutdownBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, mux := fakeMem(t)
		_, sub, _ := openPair(t, mux, "")
		c, err := mq.NewConsumer(sub, func(context.Context, *mq.Delivery) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown before Run: %v", err)
		}
		if err := c.Run(context.Background()); err != nil {
			t.Fatalf("Run after Shutdown: %v", err)
		}
		if err := c.Run(context.Background()); mq.Code(err) != mq.FailedPrecondition {
			t.Fatalf("second Run: %v, want FailedPrecondition", err)
		}
	})
}

func TestConsumerRunEndsWithItsContextAndHandsBackWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, mux := fakeMem(t)
		p, sub, _ := openPair(t, mux, "?visibility=1h")
		started := make(chan struct{})
		c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}, mq.WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()
		if err := p.Send(context.Background(), &mq.Message{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		<-started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		// Handed back at once, not after the 1 h lease.
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer rcancel()
		d, err := sub.Receive(rctx)
		if err != nil {
			t.Fatalf("not handed back: %v", err)
		}
		if d.Attempt != 2 {
			t.Errorf("Attempt = %d, want 2", d.Attempt)
		}
		_ = d.Ack()
	})
}
