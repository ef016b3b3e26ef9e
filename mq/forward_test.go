package mq_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

var forwardSeq int

// bubbleMem returns a mux over a fresh memdriver Engine on clock.Real;
// made in a synctest bubble, its leases and timers run on the bubble's
// fake time.
func bubbleMem() *mq.URLMux {
	mux := new(mq.URLMux)
	mux.Register(memdriver.Scheme, memdriver.New(nil).Opener())
	return mux
}

// forwardPair opens a source topic with subscription s and a destination
// topic with subscription d.
func forwardPair(t *testing.T, mux *mq.URLMux, srcQuery string) (src *mq.Producer, from *mq.Subscription, to *mq.Producer, dst *mq.Subscription, srcTopic string) {
	t.Helper()
	ctx := context.Background()
	forwardSeq++
	srcTopic = fmt.Sprintf("fwd-src-%d", forwardSeq)
	dstTopic := fmt.Sprintf("fwd-dst-%d", forwardSeq)
	var err error
	if from, err = mux.OpenSubscription(ctx, "mem://"+srcTopic+"/s"+srcQuery); err != nil {
		t.Fatal(err)
	}
	if dst, err = mux.OpenSubscription(ctx, "mem://"+dstTopic+"/d"); err != nil {
		t.Fatal(err)
	}
	if src, err = mux.OpenProducer(ctx, "mem://"+srcTopic); err != nil {
		t.Fatal(err)
	}
	if to, err = mux.OpenProducer(ctx, "mem://"+dstTopic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range []*mq.Producer{src, to} {
			_ = p.Shutdown(ctx)
		}
		for _, s := range []*mq.Subscription{from, dst} {
			_ = s.Shutdown(ctx)
		}
	})
	return src, from, to, dst, srcTopic
}

func TestForwardCarriesMessagesAndAcksThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := bubbleMem()
		src, from, to, dst, _ := forwardPair(t, mux, "?visibility=200ms")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		const n = 25
		for i := range n {
			m := &mq.Message{Body: fmt.Appendf(nil, "m%d", i), Attributes: map[string]string{"i": fmt.Sprint(i)}, Key: fmt.Sprintf("k%d", i%3), DedupID: fmt.Sprintf("d%d", i)}
			if err := src.Send(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := mq.Forward(ctx, from, to, mq.ForwardBatch(10), mq.ForwardLimit(n))
		if err != nil || got != n {
			t.Fatalf("Forward = %d, %v; want %d, nil", got, err, n)
		}
		seen := map[string]bool{}
		for range n {
			d, err := dst.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			i := d.Attributes["i"]
			if string(d.Body) != "m"+i || d.DedupID != "d"+i || d.Key == "" || seen[i] {
				t.Errorf("forwarded %q attrs %v key %q dedup %q (seen %v)", d.Body, d.Attributes, d.Key, d.DedupID, seen[i])
			}
			seen[i] = true
			_ = d.Ack()
		}
		// Every source message was acked: nothing comes back after the lease.
		rctx, rcancel := context.WithTimeout(ctx, 600*time.Millisecond)
		defer rcancel()
		if d, err := from.Receive(rctx); err == nil {
			t.Errorf("source redelivered %q after Forward acked it", d.Body)
		}
	})
}

func TestForwardStopsWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := bubbleMem()
		src, from, to, _, _ := forwardPair(t, mux, "")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := src.SendBatch(ctx, []*mq.Message{{Body: []byte("a")}, {Body: []byte("b")}}); err != nil {
			t.Fatal(err)
		}
		got, err := mq.Forward(ctx, from, to, mq.ForwardIdle(100*time.Millisecond))
		if err != nil || got != 2 {
			t.Fatalf("Forward = %d, %v; want 2, nil", got, err)
		}
	})
}

func TestForwardReturnsContextErrorWithoutIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := bubbleMem()
		_, from, to, _, _ := forwardPair(t, mux, "")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		got, err := mq.Forward(ctx, from, to)
		if got != 0 || !errors.Is(err, context.DeadlineExceeded) && mq.Code(err) != mq.DeadlineExceeded {
			t.Fatalf("Forward = %d, %v; want 0 and the context's error", got, err)
		}
	})
}

func TestForwardDoesNotAckWhatTheDestinationRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := bubbleMem()
		src, from, to, _, _ := forwardPair(t, mux, "?visibility=5s")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := src.Send(ctx, &mq.Message{Body: []byte("keep me")}); err != nil {
			t.Fatal(err)
		}
		if err := to.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := mq.Forward(ctx, from, to, mq.ForwardLimit(1))
		if got != 0 || !errors.Is(err, mq.ErrClosed) {
			t.Fatalf("Forward to a shut-down producer = %d, %v; want 0, ErrClosed", got, err)
		}
		// Nacked without delay: back at once, one attempt more.
		d, err := from.Receive(ctx)
		if err != nil || string(d.Body) != "keep me" || d.Attempt != 2 {
			t.Fatalf("after the failed forward: %v, %v; want the message again on attempt 2", d, err)
		}
		_ = d.Ack()
	})
}

func TestForwardCarriesOrStripsDeadLetterMetadata(t *testing.T) {
	for _, strip := range []bool{false, true} {
		t.Run(fmt.Sprintf("strip=%v", strip), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mux := bubbleMem()
				src, from, to, dst, srcTopic := forwardPair(t, mux, "?max_attempts=1&dead_letter=dlq-"+fmt.Sprint(forwardSeq+1))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				dlq, err := mux.OpenSubscription(ctx, "mem://dlq-"+fmt.Sprint(forwardSeq)+"/r")
				if err != nil {
					t.Fatal(err)
				}
				defer dlq.Shutdown(ctx)
				_ = srcTopic
				if err := src.Send(ctx, &mq.Message{Body: []byte("poison"), Attributes: map[string]string{"a": "1"}}); err != nil {
					t.Fatal(err)
				}
				d, err := from.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.DeadLetter("bad"); err != nil {
					t.Fatal(err)
				}
				var opts []mq.ForwardOption
				if strip {
					opts = append(opts, mq.ForwardStripDeadLetter())
				}
				if got, err := mq.Forward(ctx, dlq, to, append(opts, mq.ForwardLimit(1))...); err != nil || got != 1 {
					t.Fatalf("Forward = %d, %v", got, err)
				}
				f, err := dst.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_, has := f.Attributes[mq.AttrDeadLetterReason]
				if has == strip || f.Attributes["a"] != "1" {
					t.Errorf("strip=%v: forwarded attributes %v", strip, f.Attributes)
				}
				_ = f.Ack()
			})
		})
	}
}

func TestForwardRejectsBadOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := bubbleMem()
		_, from, to, _, _ := forwardPair(t, mux, "")
		for name, o := range map[string]mq.ForwardOption{
			"batch 0": mq.ForwardBatch(0), "limit -1": mq.ForwardLimit(-1), "idle -1s": mq.ForwardIdle(-time.Second),
		} {
			if _, err := mq.Forward(context.Background(), from, to, o); mq.Code(err) != mq.InvalidArgument {
				t.Errorf("%s: %v, want InvalidArgument", name, err)
			}
		}
		if _, err := mq.Forward(context.Background(), nil, to); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("nil subscription: %v", err)
		}
	})
}
