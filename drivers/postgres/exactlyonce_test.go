package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

var fastBackoff = mq.WithBackoff(mq.Backoff{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond})

// effects makes a table of handler effects, one row per successful (or
// not rolled back) handler run, without a unique constraint so that
// duplicates show.
func effects(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := testSchema + ".effects_" + fmt.Sprint(rand.Uint32())
	if _, err := pool.Exec(context.Background(), `CREATE TABLE `+name+` (msg text NOT NULL, attempt int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return name
}

// rowsPerMessage counts effect rows by message.
func rowsPerMessage(t testing.TB, pool *pgxpool.Pool, table string) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT msg, count(*) FROM `+table+` GROUP BY msg`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var m string
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			t.Fatal(err)
		}
		out[m] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// source is where the messages come from: a postgres subscription on the
// same database (acked in the handler's transaction) or mem:// standing
// for any other broker.
type source struct {
	name string
	open func(t *testing.T, pool *pgxpool.Pool) (p *mq.Producer, handles [2]*mq.Subscription)
}

var sources = []source{
	{"postgres", func(t *testing.T, pool *pgxpool.Pool) (*mq.Producer, [2]*mq.Subscription) {
		topic := uniqueName("eo")
		o := func() *postgres.SubscriptionOptions { return &postgres.SubscriptionOptions{Lease: 5 * time.Second} }
		hs := [2]*mq.Subscription{openSub(t, pool, topic, "s", o()), openSub(t, pool, topic, "s", o())}
		return openProducer(t, pool, topic), hs
	}},
	{"mem", func(t *testing.T, pool *pgxpool.Pool) (*mq.Producer, [2]*mq.Subscription) {
		u := "mem://" + uniqueName("eo")
		var hs [2]*mq.Subscription
		for i := range hs {
			s, err := mq.OpenSubscription(context.Background(), u+"/s?visibility=5s")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
			hs[i] = s
		}
		p, err := mq.OpenProducer(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		return p, hs
	}},
}

// runConsumers runs one Consumer per handle and returns a function that
// waits until they settled want deliveries in all (acked or skipped as
// duplicates), shuts them down and returns their stats.
func runConsumers(t *testing.T, hs [2]*mq.Subscription, h mq.Handler, stores [2]mq.IdempotencyStore) func(want int64) [2]mq.ConsumerStats {
	t.Helper()
	var cs [2]*mq.Consumer
	var wg sync.WaitGroup
	for i, s := range hs {
		c, err := mq.NewConsumer(s, h, mq.WithIdempotency(stores[i]), fastBackoff, mq.WithConcurrency(4))
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
		wg.Go(func() { _ = c.Run(context.Background()) })
	}
	return func(want int64) [2]mq.ConsumerStats {
		deadline := time.Now().Add(60 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var st [2]mq.ConsumerStats
		for {
			st = [2]mq.ConsumerStats{cs[0].Stats(), cs[1].Stats()}
			if st[0].Acked+st[0].Duplicates+st[1].Acked+st[1].Duplicates >= want || time.Now().After(deadline) {
				break
			}
			<-tick.C
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, c := range cs {
			_ = c.Shutdown(ctx)
		}
		wg.Wait()
		return st
	}
}

// TestExactlyOnceEffects sends N messages twice each (same DedupID) to
// two Consumers whose handler inserts a row per message and then fails
// 10 % of its attempts. With TxHandler and the PostgreSQL store every
// message has exactly one row; with a plain handler and a memory store
// per Consumer some have more, which shows that the test can tell.
func TestExactlyOnceEffects(t *testing.T) {
	const n = 60
	for _, src := range sources {
		for _, transactional := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/transactional=%v", src.name, transactional), func(t *testing.T) {
				pool := newPool(t)
				table := effects(t, pool)
				p, hs := src.open(t, pool)
				var failures atomic.Int64
				fail := func() bool {
					if rand.IntN(10) == 0 {
						failures.Add(1)
						return true
					}
					return false
				}
				errInjected := errors.New("injected failure after the insert")
				var h mq.Handler
				var stores [2]mq.IdempotencyStore
				if transactional {
					store, err := postgres.NewIdempotencyStore(pool, &postgres.StoreOptions{Schema: testSchema})
					if err != nil {
						t.Fatal(err)
					}
					stores = [2]mq.IdempotencyStore{store, store}
					h = postgres.TxHandler(pool, store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
						if _, err := tx.Exec(ctx, `INSERT INTO `+table+` VALUES ($1, $2)`, d.DedupID, d.Attempt); err != nil {
							return err
						}
						if fail() {
							return errInjected
						}
						return nil
					})
				} else {
					stores = [2]mq.IdempotencyStore{mq.NewMemoryIdempotencyStore(0), mq.NewMemoryIdempotencyStore(0)}
					h = func(ctx context.Context, d *mq.Delivery) error {
						if _, err := pool.Exec(ctx, `INSERT INTO `+table+` VALUES ($1, $2)`, d.DedupID, d.Attempt); err != nil {
							return err
						}
						if fail() {
							return errInjected
						}
						return nil
					}
				}
				wait := runConsumers(t, hs, h, stores)
				ctx := ctxFor(t, 30*time.Second)
				run := uniqueName("m") // keys no other run or subtest uses
				for copy := range 2 {
					msgs := make([]*mq.Message, n)
					for i := range msgs {
						msgs[i] = &mq.Message{Body: fmt.Appendf(nil, "copy %d", copy), DedupID: fmt.Sprintf("%s-%d", run, i)}
					}
					if err := p.SendBatch(ctx, msgs); err != nil {
						t.Fatal(err)
					}
				}
				st := wait(2 * n)
				got := rowsPerMessage(t, pool, table)
				more := 0
				for i := range n {
					k := fmt.Sprintf("%s-%d", run, i)
					switch c := got[k]; {
					case c == 0:
						t.Errorf("%s has no row", k)
					case c > 1:
						more++
						if transactional {
							t.Errorf("%s has %d rows, want exactly one", k, c)
						}
					}
				}
				t.Logf("%d injected failures; %d of %d messages with more than one row; stats %+v", failures.Load(), more, n, st)
				if !transactional && more == 0 {
					t.Errorf("the plain handler with a memory store per Consumer left no message with more than one row: the test cannot tell")
				}
				if transactional && failures.Load() == 0 {
					t.Errorf("no failure was injected: the test did not exercise rollbacks")
				}
			})
		}
	}
}
