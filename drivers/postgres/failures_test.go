package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

// The failure cases of exactly-once effects, each with a message from a
// mem:// subscription standing for any broker (the claim does the work)
// and the effect in PostgreSQL.

type eoRig struct {
	t     *testing.T
	table string
	store *postgres.IdempotencyStore
	p     *mq.Producer
	hs    [2]*mq.Subscription
	runs  atomic.Int64 // fn calls
	key   string
}

func newEORig(t *testing.T) *eoRig {
	pool := newPool(t)
	r := &eoRig{t: t, table: effects(t, pool), key: uniqueName("order")}
	var err error
	if r.store, err = postgres.NewIdempotencyStore(pool, &postgres.StoreOptions{Schema: testSchema}); err != nil {
		t.Fatal(err)
	}
	r.p, r.hs = sources[1].open(t, pool)
	return r
}

func TestCrashAfterCommitBeforeAckSkipsRedelivery(t *testing.T) {
	r := newEORig(t)
	pool := newPool(t)
	h := postgres.TxHandler(pool, r.store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		r.runs.Add(1)
		_, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, $2)`, d.DedupID, d.Attempt)
		return err
	})
	var crashed atomic.Bool
	crashing := func(ctx context.Context, d *mq.Delivery) error {
		if err := h(ctx, d); err != nil {
			return err
		}
		if crashed.CompareAndSwap(false, true) {
			// Committed, and the process dies before the ack: the
			// message comes again.
			panic("crash after commit, before ack")
		}
		return nil
	}
	wait := runConsumers(t, r.hs, crashing, [2]mq.IdempotencyStore{r.store, r.store})
	if err := r.p.Send(ctxFor(t, 10*time.Second), &mq.Message{Body: []byte("pay"), DedupID: r.key}); err != nil {
		t.Fatal(err)
	}
	st := wait(1)
	if got := rowsPerMessage(t, pool, r.table)[r.key]; got != 1 || r.runs.Load() != 1 {
		t.Errorf("%d rows, handler ran %d times; want 1 and 1", got, r.runs.Load())
	}
	if d := st[0].Duplicates + st[1].Duplicates; d != 1 || st[0].Retried+st[1].Retried != 1 {
		t.Errorf("stats %+v: want the crashed attempt retried once and the redelivery skipped as a duplicate", st)
	}
}

func TestCrashBeforeCommitIsRetried(t *testing.T) {
	r := newEORig(t)
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	// A process claimed the key and inserted its effect, then died
	// before committing: its transaction rolls back and its claim stays
	// until its ttl.
	dead, err := r.store.Claim(ctx, r.key, 500*time.Millisecond)
	if err != nil || dead.Result != mq.Claimed {
		t.Fatalf("Claim = %+v, %v", dead, err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, 1)`, r.key); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h := postgres.TxHandler(pool, r.store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		r.runs.Add(1)
		_, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, $2)`, d.DedupID, d.Attempt)
		return err
	})
	wait := runConsumers(t, r.hs, h, [2]mq.IdempotencyStore{r.store, r.store})
	if err := r.p.Send(ctx, &mq.Message{Body: []byte("pay"), DedupID: r.key}); err != nil {
		t.Fatal(err)
	}
	st := wait(1)
	if got := rowsPerMessage(t, pool, r.table)[r.key]; got != 1 || r.runs.Load() != 1 {
		t.Errorf("%d rows, handler ran %d times (stats %+v); want 1 and 1 once the dead claim expired", got, r.runs.Load(), st)
	}
	// The dead holder cannot complete what the new one did.
	if err := r.store.Complete(ctx, dead); !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Complete with the dead claim = %v, want ErrClaimLost", err)
	}
}

func TestHandlerErrorRollsBackAndRetries(t *testing.T) {
	r := newEORig(t)
	pool := newPool(t)
	var attempts []int
	h := postgres.TxHandler(pool, r.store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		r.runs.Add(1)
		if _, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, $2)`, d.DedupID, d.Attempt); err != nil {
			return err
		}
		attempts = append(attempts, d.Attempt)
		if d.Attempt == 1 {
			return errors.New("payment service said no")
		}
		return nil
	})
	wait := runConsumers(t, r.hs, h, [2]mq.IdempotencyStore{r.store, r.store})
	if err := r.p.Send(ctxFor(t, 10*time.Second), &mq.Message{Body: []byte("pay"), DedupID: r.key}); err != nil {
		t.Fatal(err)
	}
	st := wait(1)
	var rows []int
	q, err := pool.Query(context.Background(), `SELECT attempt FROM `+r.table+` WHERE msg = $1`, r.key)
	if err != nil {
		t.Fatal(err)
	}
	rows, err = pgx.CollectRows(q, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0] != 2 || len(attempts) != 2 {
		t.Errorf("effect rows by attempt %v, handler attempts %v (stats %+v); want only attempt 2's row after attempt 1 was rolled back", rows, attempts, st)
	}
	if st[0].Retried+st[1].Retried != 1 {
		t.Errorf("stats %+v: want one retry (nack with backoff)", st)
	}
}

func TestTwoConsumersRacingOnOneKey(t *testing.T) {
	r := newEORig(t)
	pool := newPool(t)
	var cs [2]*mq.Consumer
	var released = make(chan struct{})
	h := postgres.TxHandler(pool, r.store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		r.runs.Add(1)
		// Hold the key until both Consumers have a copy in hand, so the
		// second meets the first's claim.
		select {
		case <-released:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, $2)`, d.DedupID, d.Attempt)
		return err
	})
	stopped := make(chan struct{})
	for i := range cs {
		c, err := mq.NewConsumer(r.hs[i], h, mq.WithIdempotency(r.store), fastBackoff)
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
		go func() { _ = c.Run(context.Background()); stopped <- struct{}{} }()
	}
	ctx := ctxFor(t, 30*time.Second)
	// Two copies, sent so that each handle gets one (mem shares a
	// subscription's messages among its handles).
	for range 2 {
		if err := r.p.Send(ctx, &mq.Message{Body: []byte("pay"), DedupID: r.key}); err != nil {
			t.Fatal(err)
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for cs[0].Stats().Received+cs[1].Stats().Received < 2 && ctx.Err() == nil {
		<-tick.C
	}
	close(released)
	for ctx.Err() == nil {
		a, b := cs[0].Stats(), cs[1].Stats()
		if a.Acked+a.Duplicates+b.Acked+b.Duplicates >= 2 {
			break
		}
		<-tick.C
	}
	for _, c := range cs {
		_ = c.Shutdown(ctx)
		<-stopped
	}
	a, b := cs[0].Stats(), cs[1].Stats()
	if got := rowsPerMessage(t, pool, r.table)[r.key]; got != 1 || r.runs.Load() != 1 || a.Duplicates+b.Duplicates != 1 {
		t.Errorf("%d rows, handler ran %d times, stats %+v %+v; want one row, one run and one duplicate", got, r.runs.Load(), a, b)
	}
}

func TestTxHandlerAcksInTheHandlersTransaction(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	table := effects(t, pool)
	topic := uniqueName("eo")
	sub := openSub(t, pool, topic, "s", &postgres.SubscriptionOptions{Lease: 5 * time.Second})
	p := openProducer(t, pool, topic)
	if err := p.Send(ctx, &mq.Message{Body: []byte("pay")}); err != nil {
		t.Fatal(err)
	}
	var inTx int64 = -1
	h := postgres.TxHandler(pool, nil, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+table+` VALUES ($1, $2)`, d.ID, d.Attempt); err != nil {
			return err
		}
		var row *postgres.Row
		if !d.As(&row) {
			return errors.New("Delivery.As(**postgres.Row) = false")
		}
		// Before the commit another connection still sees the row.
		return pool.QueryRow(ctx, `SELECT count(*) FROM `+testSchema+`.queue WHERE id = $1`, row.ID).Scan(&inTx)
	})
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row *postgres.Row
	if !d.As(&row) {
		t.Fatal("no native row")
	}
	if err := h(ctx, d); err != nil {
		t.Fatal(err)
	}
	var after int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+testSchema+`.queue WHERE id = $1`, row.ID).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if inTx != 1 || after != 0 {
		t.Errorf("queue row seen %d times during the transaction and %d after the commit; want 1 and 0", inTx, after)
	}
	// The Consumer's Ack after the handler succeeds without a statement.
	if err := d.Ack(); err != nil {
		t.Errorf("Ack after the transaction acked the row: %v", err)
	}
	receiveNone(t, sub, 500*time.Millisecond, "acked in the handler's transaction")
}

func TestExpiredClaimIsFencedOutOfTheTransaction(t *testing.T) {
	r := newEORig(t)
	pool := newPool(t)
	running, taken := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	h := postgres.TxHandler(pool, r.store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		if _, err := tx.Exec(ctx, `INSERT INTO `+r.table+` VALUES ($1, $2)`, d.DedupID, d.Attempt); err != nil {
			return err
		}
		if first.CompareAndSwap(false, true) {
			close(running)
			<-taken // the claim expired meanwhile and another holder took the key
		}
		return nil
	})
	c, err := mq.NewConsumer(r.hs[0], h, mq.WithIdempotency(r.store), fastBackoff)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(context.Background()) }()
	ctx := ctxFor(t, 30*time.Second)
	if err := r.p.Send(ctx, &mq.Message{Body: []byte("pay"), DedupID: r.key}); err != nil {
		t.Fatal(err)
	}
	<-running
	// The claim's time runs out (moved into the past rather than waited
	// for, so the delivery's lease, still kept by the Consumer, does not
	// end too) and another holder takes the key.
	if _, err := pool.Exec(ctx, `UPDATE `+testSchema+`.claims SET until = now() - interval '1 s' WHERE key = $1`, r.key); err != nil {
		t.Fatal(err)
	}
	other, err := r.store.Claim(ctx, r.key, time.Hour)
	if err != nil || other.Result != mq.Claimed {
		t.Fatalf("Claim after expiry = %+v, %v", other, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	close(taken)
	// The first handler's commit must fail: its completion is fenced out
	// and its INSERT rolled back. The Consumer then retries, finds the key
	// busy (held by other) and keeps the delivery.
	for ctx.Err() == nil && c.Stats().Retried == 0 {
		<-tick.C
	}
	if got := rowsPerMessage(t, pool, r.table)[r.key]; got != 0 {
		t.Errorf("%d effect rows after the fenced-out commit, want 0", got)
	}
	if err := r.store.Complete(ctx, other); err != nil {
		t.Errorf("the new holder's Complete: %v", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Shutdown(sctx)
	<-done
}
