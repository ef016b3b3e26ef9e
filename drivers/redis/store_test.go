package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/mq"
)

func TestIdempotencyStoreConformance(t *testing.T) {
	base := serverURL(t)
	p := prefixOf(t, base)
	c := rawClient(nil)
	defer c.Close()
	conformance.RunIdempotencyStore(t, conformance.StoreHarness{
		Name: "redis",
		New: func(_ context.Context, retention time.Duration) (mq.IdempotencyStore, error) {
			return redis.NewIdempotencyStore(c, &redis.StoreOptions{Prefix: p + ":idem", Retention: retention}), nil
		},
		// Wait is nil: a real sleep, since the server keeps the time
		// (PX expiries).
	})
}

func TestIdempotencyStoreFailsUnavailableWhenServerIsGone(t *testing.T) {
	serverURL(t)
	addr := "127.0.0.1:1" // nothing listens there
	c := rawClient(&addr)
	defer c.Close()
	s := redis.NewIdempotencyStore(c, nil)
	ctx := ctxFor(t, 30*time.Second)
	_, err := s.Claim(ctx, "k", time.Second)
	if mq.Code(err) != mq.Unavailable || !mq.IsRetryable(err) {
		t.Fatalf("Claim with no server: %v (code %v), want Unavailable", err, mq.Code(err))
	}
	err = s.Complete(ctx, mq.Claim{Key: "k", Result: mq.Claimed, Token: "t"})
	if mq.Code(err) != mq.Unavailable || errors.Is(err, mq.ErrClaimLost) {
		t.Fatalf("Complete with no server: %v (code %v), want Unavailable", err, mq.Code(err))
	}
}

// TestTwoConsumersRunEachDedupIDOnce is the case of issue 13: two
// Consumers over two independent subscription handles (each with its own
// go-redis client, as two replicas of a service would be) share one
// subscription; every message is sent twice with one DedupID, the copies
// back to back so that the two replicas often hold them at the same time.
// With the Redis store shared by both, every handler effect happens once;
// with a memory store in each replica, the copies that went to different
// replicas both run, which the test asserts too (so that it can fail).
func TestTwoConsumersRunEachDedupIDOnce(t *testing.T) {
	const n = 500
	for _, shared := range []bool{true, false} {
		name := map[bool]string{true: "SharedRedisStore", false: "SeparateMemoryStores"}[shared]
		t.Run(name, func(t *testing.T) {
			base := serverURL(t)
			p := prefixOf(t, base)
			setup(t, base, "orders", mq.SubscriptionConfig{Lease: 5 * time.Second}, "payments")
			ctx := ctxFor(t, 2*time.Minute)

			var mu sync.Mutex
			effects := map[string]int{}
			all := make(chan struct{})
			handler := func(ctx context.Context, d *mq.Delivery) error {
				mu.Lock()
				effects[d.DedupID]++
				if len(effects) == n {
					select {
					case <-all:
					default:
						close(all)
					}
				}
				mu.Unlock()
				return nil
			}
			var consumers []*mq.Consumer
			var runs sync.WaitGroup
			for i := range 2 {
				c := rawClient(nil)
				t.Cleanup(func() { _ = c.Close() })
				ds, err := redis.OpenSubscription(ctx, c, "orders", "payments", &redis.SubscriptionOptions{Prefix: p})
				must(t, err)
				// One message per fetch, so that the two replicas take
				// turns and the copies of a message often go to both.
				sub, err := mq.NewSubscription(ds, mq.WithPrefetch(1))
				must(t, err)
				var store mq.IdempotencyStore = mq.NewMemoryIdempotencyStore(0)
				if shared {
					store = redis.NewIdempotencyStore(c, &redis.StoreOptions{Prefix: p + ":idem"})
				}
				cons, err := mq.NewConsumer(sub, handler, mq.WithConcurrency(4), mq.WithIdempotency(store))
				must(t, err)
				consumers = append(consumers, cons)
				runs.Go(func() {
					if err := cons.Run(ctx); err != nil {
						t.Errorf("consumer %d: Run: %v", i, err)
					}
				})
				t.Cleanup(func() {
					sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := sub.Shutdown(sctx); err != nil {
						t.Errorf("Subscription.Shutdown: %v", err)
					}
				})
			}
			prod, err := mq.OpenProducer(ctx, withQuery(base, "topic", "orders"))
			must(t, err)
			defer prod.Shutdown(context.Background())
			for i := 0; i < n; i += 50 {
				var batch []*mq.Message
				for j := i; j < i+50; j++ {
					id := fmt.Sprintf("order-%d", j)
					batch = append(batch, &mq.Message{Body: []byte(id), DedupID: id}, &mq.Message{Body: []byte(id), DedupID: id})
				}
				must(t, prod.SendBatch(ctx, batch))
			}
			select {
			case <-all:
			case <-ctx.Done():
				t.Fatalf("handled %d of %d DedupIDs before the deadline", len(effects), n)
			}
			// Wait until both consumers took all 2n deliveries and settled
			// them, so that a late duplicate is counted.
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				var received, inflight int64
				for _, c := range consumers {
					st := c.Stats()
					received += st.Received
					inflight += st.InFlight
				}
				if received >= 2*n && inflight == 0 {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("consumers received %d of %d deliveries (%d in flight) before the deadline", received, 2*n, inflight)
				case <-tick.C:
				}
			}
			for _, c := range consumers {
				sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				must(t, c.Shutdown(sctx))
				cancel()
			}
			runs.Wait()
			mu.Lock()
			defer mu.Unlock()
			doubles := 0
			for _, k := range effects {
				if k > 1 {
					doubles++
				}
			}
			var dups []int64
			for _, c := range consumers {
				dups = append(dups, c.Stats().Duplicates)
			}
			t.Logf("%d DedupIDs sent twice: %d handled more than once; duplicates skipped per consumer: %v", n, doubles, dups)
			if len(effects) != n {
				t.Errorf("handled %d DedupIDs, want %d", len(effects), n)
			}
			switch {
			case shared && doubles != 0:
				t.Errorf("with the shared Redis store %d of %d DedupIDs were handled twice, want 0", doubles, n)
			case !shared && doubles == 0:
				t.Errorf("with a memory store per consumer no DedupID was handled twice; the test cannot tell the stores apart")
			}
		})
	}
}
