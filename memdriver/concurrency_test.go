package memdriver

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// TestConcurrentSendReceiveAckAcksEveryMessageExactlyOnce runs producers
// and competing consumers on two subscriptions with a real clock, short
// leases and random nacks, and checks that every message is acked exactly
// once on each subscription.
func TestConcurrentSendReceiveAckAcksEveryMessageExactlyOnce(t *testing.T) {
	const (
		producers = 8
		perProd   = 2000
		handles   = 4 // per subscription
		total     = producers * perProd
	)
	e := New(nil)
	cfg := &driver.SubscriptionConfig{Lease: 20 * time.Millisecond, Ordered: true}
	type counts struct {
		mu    sync.Mutex
		acked map[string]int
		left  atomic.Int64
	}
	subs := []string{"a", "b"}
	cs := make([]*counts, len(subs))
	var hs [][]driver.Subscription
	for i, name := range subs {
		cs[i] = &counts{acked: make(map[string]int)}
		cs[i].left.Store(total)
		var row []driver.Subscription
		for range handles {
			s, err := e.OpenSubscription("t", name, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, s)
		}
		hs = append(hs, row)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			tp, err := e.OpenTopic("t", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer tp.Close()
			for i := 0; i < perProd; {
				n := 1 + i%7
				msgs := make([]driver.Message, 0, n)
				for ; n > 0 && i < perProd; n-- {
					msgs = append(msgs, driver.Message{Body: []byte(strconv.Itoa(p*perProd + i)), Key: strconv.Itoa(i % 13)})
					i++
				}
				if err := tp.SendBatch(ctx, msgs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for si := range subs {
		for _, s := range hs[si] {
			wg.Go(func() {
				c := cs[si]
				dst := make([]driver.Message, 16)
				var n uint64
				for c.left.Load() > 0 {
					rctx, rcancel := context.WithTimeout(ctx, 50*time.Millisecond)
					k, err := s.ReceiveBatch(rctx, dst)
					rcancel()
					if err != nil {
						if ctx.Err() != nil {
							t.Error("timed out with", c.left.Load(), "left")
							return
						}
						continue
					}
					for _, m := range dst[:k] {
						n++
						if n%10 == 0 {
							_ = s.Nack(ctx, []driver.AckID{m.AckID}, 0)
							continue
						}
						if n%97 == 0 {
							// Let the lease end on the real clock, its timer
							// racing the other handles: real timers firing
							// among concurrent calls are what this test is
							// for, so it keeps real time (its one sleep).
							time.Sleep(cfg.Lease + cfg.Lease/2)
						}
						err := s.Ack(ctx, []driver.AckID{m.AckID})
						if err != nil {
							if driver.CodeOf(err) != driver.FailedPrecondition {
								t.Error(err)
							}
							continue
						}
						c.mu.Lock()
						c.acked[string(m.Body)]++
						c.mu.Unlock()
						c.left.Add(-1)
					}
				}
			})
		}
	}
	wg.Wait()
	for si, c := range cs {
		if len(c.acked) != total {
			t.Errorf("subscription %s: %d distinct acked, want %d", subs[si], len(c.acked), total)
		}
		for id, n := range c.acked {
			if n != 1 {
				t.Errorf("subscription %s: message %s acked %d times", subs[si], id, n)
			}
		}
		for _, s := range hs[si] {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
		// Nothing is left over.
		s, _ := e.OpenSubscription("t", subs[si], nil, nil)
		rctx, rcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if n, err := s.ReceiveBatch(rctx, make([]driver.Message, 1)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("left over: %d %v", n, err)
		}
		rcancel()
		_ = s.Close()
	}
}
