package mq_test

import (
	"context"
	"testing"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// fakeMem is a memdriver Engine on a fake clock years away from real time,
// with a mux that opens mem:// URLs on it.
func fakeMem(t *testing.T) (*clock.Fake, *mq.URLMux) {
	t.Helper()
	clk := clock.NewFake(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
	mux := new(mq.URLMux)
	mux.Register(memdriver.Scheme, memdriver.New(&memdriver.Options{Clock: clk}).Opener())
	return clk, mux
}

// A Subscription over an engine on a fake clock measures the leases of the
// messages waiting in its buffer with that clock, with no option: it
// delivers them instead of dropping them as expired (they were, by the
// real clock, years ago), and keeps their leases on that clock.
func TestSubscriptionUsesTheDriversClockForBufferedLeases(t *testing.T) {
	ctx := t.Context()
	clk, mux := fakeMem(t)
	sub, err := mux.OpenSubscription(ctx, "mem://orders/billing?visibility=10s")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(context.Background())
	p, err := mux.OpenProducer(ctx, "mem://orders")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if err := p.SendBatch(ctx, []*mq.Message{{Body: []byte("1")}, {Body: []byte("2")}, {Body: []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	// The first Receive fetches all three; the others wait in the buffer.
	for _, want := range []string{"1", "2"} {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			t.Fatalf("Receive of %s: %v (a buffered message was dropped as expired)", want, err)
		}
		if string(d.Body) != want {
			t.Fatalf("Receive = %q, want %q", d.Body, want)
		}
		if got := d.Deadline(); !got.Equal(clk.Now().Add(10 * time.Second)) {
			t.Errorf("Deadline = %v, want the fake clock's now + 10 s (%v)", got, clk.Now().Add(10*time.Second))
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	// Half a lease on, the buffer keeper (armed on the fake clock) extends
	// the lease of "3", which still waits in the buffer: it is delivered
	// after its first lease would have ended, on its first attempt.
	start := clk.Now()
	clk.Advance(10 * time.Second)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, err := sub.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Body) != "3" || d.Attempt != 1 {
		t.Fatalf("after the first lease: %q attempt %d, want \"3\" attempt 1", d.Body, d.Attempt)
	}
	if got, want := d.Deadline(), start.Add(20*time.Second); !got.Equal(want) {
		t.Errorf("Deadline = %v, want %v (extended at 5 s and again at 10 s)", got, want)
	}
	_ = d.Ack()
}

// The handles' clock options and the mux's clock take precedence over the
// driver's, in that order; a nil clock is refused.
func TestClockOptionsOverrideTheMuxAndTheDriver(t *testing.T) {
	ctx := t.Context()
	engClk, mux := fakeMem(t)
	muxClk := clock.NewFake(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC))
	optClk := clock.NewFake(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	p, err := mux.OpenProducer(ctx, "mem://t")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	mux.SetClock(muxClk)
	for _, tc := range []struct {
		name string
		opts []mq.SubscriptionOption
		want *clock.Fake
	}{
		{"mux", nil, muxClk},
		{"option", []mq.SubscriptionOption{mq.WithSubscriptionClock(optClk)}, optClk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := mux.OpenSubscription(ctx, "mem://t/"+tc.name+"?visibility=1m", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Shutdown(context.Background())
			if err := p.Send(ctx, &mq.Message{Body: []byte(tc.name)}); err != nil {
				t.Fatal(err)
			}
			d, err := sub.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Ack()
			// Extend reads mq's clock: the new deadline is on the chosen one.
			if err := d.Extend(time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, want := d.Deadline(), tc.want.Now().Add(time.Minute); !got.Equal(want) {
				t.Fatalf("Deadline after Extend = %v, want %v (engine clock %v)", got, want, engClk.Now())
			}
		})
	}
	e := memdriver.New(nil)
	ds, err := e.OpenSubscription("t", "s", &driver.SubscriptionConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if _, err := mq.NewSubscription(ds, mq.WithSubscriptionClock(nil)); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("WithSubscriptionClock(nil): %v, want InvalidArgument", err)
	}
	dt, err := e.OpenTopic("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dt.Close()
	if _, err := mq.NewProducer(dt, mq.WithProducerClock(nil)); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("WithProducerClock(nil): %v, want InvalidArgument", err)
	}
}
