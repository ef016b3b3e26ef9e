package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

const (
	benchBody  = 256  // bytes per message
	benchBatch = 100  // messages per send, receive and ack statement
	benchRound = 1000 // messages per round of each side
	benchMin   = 3000 // messages of each side at least, for stable rates
)

// benchSide is one way of doing the work: raw pgx SQL or portmq.
type benchSide interface {
	send(b *testing.B, n int)
	consume(b *testing.B, n, workers int)
}

// BenchmarkVersusRaw runs the same work through hand-written pgx SQL and
// through portmq (the driver's plain constructors, each side on a pool of
// its own with 10 connections) against one server in this process, and
// reports both rates and their ratio (portmq ÷ raw):
//
//   - send: batches of 100 messages of 256 bytes, one INSERT ... SELECT
//     FROM unnest(...) each (portmq: Producer.SendBatch, which also
//     checks dedup and notifies listeners).
//   - consume/N: N goroutines take batches of 100 with FOR UPDATE SKIP
//     LOCKED (setting the lease and counting the attempt) and delete what
//     they took in one statement (portmq: Subscription.ReceiveBatch(100)
//     and AckBatch on one Subscription with prefetch 100).
//   - pipeline/N: one sender and N consumers at once.
//
// Neither side polls busily: a raw consumer that finds nothing waits for
// a NOTIFY on its channel (sent by each raw insert; one LISTEN connection
// serves all raw workers and wakes them all) or a second, as portmq's
// receives do (one LISTEN connection per pool too, shared by the handles;
// it wakes one waiting receive per notification, a driver design choice
// the raw side does not copy). The raw table is the driver's queue table
// copied with LIKE ... INCLUDING ALL plus its storage parameters
// (fillfactor, autovacuum), which LIKE does not copy.
//
// The sides take turns in rounds of 1000 messages, each going first in
// every other round, on tables of their own; ns/op is not meaningful, the
// rates are.
func BenchmarkVersusRaw(b *testing.B) {
	pool := newPool(b)
	raw := newRawSide(b, pool)
	pm := newPortmqSide(b)
	for _, c := range []struct {
		name    string
		workers int
		pipe    bool
	}{
		{"send", 0, false}, {"consume/1", 1, false}, {"consume/8", 8, false},
		{"pipeline/1", 1, true}, {"pipeline/8", 8, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var tRaw, tPM time.Duration
			total := max(b.N, benchMin)
			run := func(s benchSide, n int) time.Duration {
				switch {
				case c.workers == 0:
					start := time.Now()
					s.send(b, n)
					d := time.Since(start)
					s.consume(b, n, 8) // drain, untimed
					return d
				case !c.pipe:
					s.send(b, n)
					start := time.Now()
					s.consume(b, n, c.workers)
					return time.Since(start)
				default:
					start := time.Now()
					var wg sync.WaitGroup
					wg.Go(func() { s.send(b, n) })
					s.consume(b, n, c.workers)
					wg.Wait()
					return time.Since(start)
				}
			}
			b.ResetTimer()
			for round, done := 0, 0; done < total; round, done = round+1, done+benchRound {
				n := min(benchRound, total-done)
				if round%2 == 0 {
					tRaw += run(raw, n)
					tPM += run(pm, n)
				} else {
					tPM += run(pm, n)
					tRaw += run(raw, n)
				}
			}
			b.StopTimer()
			rr, pr := float64(total)/tRaw.Seconds(), float64(total)/tPM.Seconds()
			b.ReportMetric(rr, "raw-msgs/s")
			b.ReportMetric(pr, "portmq-msgs/s")
			b.ReportMetric(pr/rr, "ratio")
		})
	}
}

var benchPayload = bytes.Repeat([]byte("0123456789abcdef"), benchBody/16)

// rawSide is the hand-written pgx baseline, on a table shaped like the
// driver's queue (same columns and indexes).
type rawSide struct {
	pool  *pgxpool.Pool
	table string
	// A hand-written fan-out queue routes by topic too: the raw send looks
	// up the topic's subscriptions, as portmq's does, in routing tables of
	// the same shape (the driver's own, with a topic of the raw side's).
	topic string
	subID int64

	mu   sync.Mutex
	wake chan struct{} // closed and replaced on each notification
}

// listen wakes idle consumers on each notification of the raw channel:
// a hand-written queue without busy polling, as portmq's.
func (r *rawSide) listen(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	c, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, "LISTEN raw_bench"); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := c.WaitForNotification(ctx); err != nil {
				return
			}
			r.mu.Lock()
			close(r.wake)
			r.wake = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close(context.Background())
	})
}

func (r *rawSide) woken() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wake
}

func benchPool(b *testing.B) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(baseURL())
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 10
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func newRawSide(b *testing.B, admin *pgxpool.Pool) *rawSide {
	r := &rawSide{pool: benchPool(b), table: testSchema + ".raw_queue_" + fmt.Sprint(time.Now().UnixNano()%1e9), wake: make(chan struct{})}
	r.listen(b)
	ctx := context.Background()
	if _, err := admin.Exec(ctx, `CREATE TABLE `+r.table+` (LIKE `+testSchema+`.queue INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	// LIKE does not copy storage parameters: the raw table gets the
	// queue's (fillfactor, autovacuum), so that both sides' tables behave
	// alike under churn.
	var relopts []string
	if err := admin.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = $1::regclass`, testSchema+".queue").Scan(&relopts); err != nil {
		b.Fatal(err)
	}
	if len(relopts) > 0 {
		if _, err := admin.Exec(ctx, `ALTER TABLE `+r.table+` SET (`+strings.Join(relopts, ", ")+`)`); err != nil {
			b.Fatal(err)
		}
	}
	r.topic = uniqueName("raw")
	if err := admin.QueryRow(ctx, `WITH t AS (INSERT INTO `+testSchema+`.topics (name) VALUES ($1) RETURNING id)
		INSERT INTO `+testSchema+`.subscriptions (topic_id, name) SELECT id, 's' FROM t RETURNING id`, r.topic).Scan(&r.subID); err != nil {
		b.Fatal(err)
	}
	return r
}

func (r *rawSide) send(b *testing.B, n int) {
	ctx := context.Background()
	for sent := 0; sent < n; {
		k := min(benchBatch, n-sent)
		ids := make([]string, k)
		bodies := make([][]byte, k)
		for i := range k {
			ids[i] = fmt.Sprint(sent + i)
			bodies[i] = benchPayload
		}
		// A queue whose consumers are woken by NOTIFY, as portmq's are.
		if _, err := r.pool.Exec(ctx, `WITH s AS (SELECT s.id FROM `+testSchema+`.topics t JOIN `+testSchema+`.subscriptions s ON s.topic_id = t.id WHERE t.name = $3),
			i AS (INSERT INTO `+r.table+` (sub_id, msg_id, body, published_at, available_at)
			SELECT s.id, m.id, m.body, now(), now() FROM s CROSS JOIN unnest($1::text[], $2::bytea[]) AS m(id, body) RETURNING 1)
			SELECT pg_notify('raw_bench', (SELECT count(*) FROM i)::text)`, ids, bodies, r.topic); err != nil {
			b.Fatal(err)
		}
		sent += k
	}
}

func (r *rawSide) consume(b *testing.B, n, workers int) {
	ctx := context.Background()
	var got atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	for range workers {
		wg.Go(func() {
			defer func() {
				if got.Load() >= int64(n) {
					once.Do(func() { close(stop) })
				}
			}()
			for got.Load() < int64(n) {
				woken := r.woken()
				rows, err := r.pool.Query(ctx, `WITH c AS (SELECT q.id FROM `+r.table+` q
						WHERE q.sub_id = $2 AND q.acked_at IS NULL AND q.available_at <= now()
						AND (q.locked_until IS NULL OR q.locked_until <= now())
						ORDER BY q.id LIMIT $1 FOR UPDATE SKIP LOCKED)
					UPDATE `+r.table+` q SET attempts = q.attempts + 1, leases = q.leases + 1, locked_until = now() + interval '30 s'
					FROM c WHERE q.id = c.id
					RETURNING q.id, q.leases, q.msg_id, q.body, q.attrs, q.key, q.dedup_id, q.published_at, q.attempts, q.locked_until`, benchBatch, r.subID)
				if err != nil {
					b.Error(err)
					return
				}
				var ids []int64
				var leases []int32
				for rows.Next() {
					var id int64
					var l, att int32
					var msgID string
					var body, attrs, key, dd []byte
					var pub, until time.Time
					if err := rows.Scan(&id, &l, &msgID, &body, &attrs, &key, &dd, &pub, &att, &until); err != nil {
						b.Error(err)
						return
					}
					ids = append(ids, id)
					leases = append(leases, l)
				}
				if rows.Err() != nil {
					b.Error(rows.Err())
					return
				}
				if len(ids) == 0 {
					// Wait for a notification (or a second, as a lost
					// one would cost), not spinning.
					t := time.NewTimer(time.Second)
					select {
					case <-woken:
					case <-t.C:
					case <-stop:
					}
					t.Stop()
					continue
				}
				if _, err := r.pool.Exec(ctx, `DELETE FROM `+r.table+` q USING unnest($1::bigint[], $2::int[]) AS a(id, leases)
					WHERE q.id = a.id AND q.leases = a.leases AND q.locked_until > now()`, ids, leases); err != nil {
					b.Error(err)
					return
				}
				if got.Add(int64(len(ids))) >= int64(n) {
					once.Do(func() { close(stop) })
				}
			}
		})
	}
	wg.Wait()
}

// portmqSide is the same work through the driver. Each consumer has a
// handle of its own on the subscription, as each raw worker runs its own
// statements: N consumers are N processes' handles, not N goroutines
// taking turns on one handle's fetches.
type portmqSide struct {
	p    *mq.Producer
	subs []*mq.Subscription
}

const benchConsumers = 8 // the most consumers a case runs

func newPortmqSide(b *testing.B) *portmqSide {
	pool := benchPool(b)
	topic := uniqueName("bench")
	s := &portmqSide{p: openProducer(b, pool, topic)}
	for range benchConsumers {
		ds, err := postgres.NewSubscription(context.Background(), pool, topic, "s", &postgres.SubscriptionOptions{Options: postgres.Options{Schema: testSchema}})
		if err != nil {
			b.Fatal(err)
		}
		sub, err := mq.NewSubscription(ds, mq.WithPrefetch(benchBatch))
		if err != nil {
			b.Fatal(err)
		}
		s.subs = append(s.subs, sub)
		b.Cleanup(func() { _ = sub.Shutdown(context.Background()) })
	}
	return s
}

func (s *portmqSide) send(b *testing.B, n int) {
	ctx := context.Background()
	msgs := make([]*mq.Message, 0, benchBatch)
	for sent := 0; sent < n; {
		msgs = msgs[:0]
		for ; len(msgs) < benchBatch && sent < n; sent++ {
			msgs = append(msgs, &mq.Message{Body: benchPayload})
		}
		if err := s.p.SendBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
}

func (s *portmqSide) consume(b *testing.B, n, workers int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		sub := s.subs[w]
		wg.Go(func() {
			for got.Load() < int64(n) {
				ds, err := sub.ReceiveBatch(ctx, benchBatch)
				if err != nil {
					if ctx.Err() == nil {
						b.Error(err)
					}
					return
				}
				if err := sub.AckBatch(ds); err != nil {
					b.Error(err)
					return
				}
				if got.Add(int64(len(ds))) >= int64(n) {
					cancel() // wake the others waiting in Receive
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSendFanout measures what a send costs with 1, 10 and 100
// subscriptions on the topic (copy per subscription: one row per message
// per subscription), in batches of 100 messages of 256 bytes.
func BenchmarkSendFanout(b *testing.B) {
	pool := newPool(b)
	ctx := context.Background()
	for _, subs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscriptions=%d", subs), func(b *testing.B) {
			topic := uniqueName("fan")
			for i := range subs {
				ds, err := postgres.NewSubscription(ctx, pool, topic, fmt.Sprint("s", i), &postgres.SubscriptionOptions{Options: postgres.Options{Schema: testSchema}})
				if err != nil {
					b.Fatal(err)
				}
				_ = ds.Close()
			}
			p := openProducer(b, pool, topic)
			msgs := make([]*mq.Message, benchBatch)
			b.ResetTimer()
			sent := 0
			for sent < b.N {
				for i := range msgs {
					msgs[i] = &mq.Message{Body: benchPayload}
				}
				if err := p.SendBatch(ctx, msgs); err != nil {
					b.Fatal(err)
				}
				sent += benchBatch
			}
			b.StopTimer()
			el := b.Elapsed()
			b.ReportMetric(float64(sent)/el.Seconds(), "msgs/s")
			b.ReportMetric(float64(el.Microseconds())/float64(sent), "µs/msg")
			b.ReportMetric(0, "ns/op")
			// Leave no rows behind for the next size.
			if _, err := pool.Exec(ctx, `DELETE FROM `+testSchema+`.queue WHERE sub_id IN (SELECT s.id FROM `+testSchema+`.subscriptions s JOIN `+testSchema+`.topics t ON t.id = s.topic_id WHERE t.name = $1)`, topic); err != nil {
				b.Fatal(err)
			}
		})
	}
}
