package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq/driver"
)

// Defaults.
const (
	DefaultLease        = 30 * time.Second
	DefaultPollInterval = 2 * time.Second
	// statementTimeout bounds each statement of a receive, which does
	// not end with the receive's context.
	statementTimeout = 30 * time.Second
	// cleanBatch bounds the rows one housekeeping statement deletes.
	cleanBatch = 1000
)

// SubscriptionOptions configure NewSubscription. nil means the defaults.
type SubscriptionOptions struct {
	Options
	// Lease is the lease (visibility timeout) of this handle's deliveries.
	// 0 means the subscription's stored lease (DefaultLease when created
	// here).
	Lease time.Duration
	// MaxAttempts, DeadLetterTopic, Ordered and Retention are the
	// subscription's settings. They are stored when the subscription is
	// created here; on an existing subscription a non-zero value that
	// differs from the stored one is an error (FailedPrecondition).
	// DeadLetterTopic defaults to NAME.dlq when MaxAttempts is set.
	MaxAttempts     int
	DeadLetterTopic string
	Ordered         bool
	Retention       time.Duration
	// PollInterval bounds how long an idle receive waits without a
	// notification (so a lost one costs at most this long), and paces
	// the cleanup of acked rows and expired dedup entries. Default
	// DefaultPollInterval.
	PollInterval time.Duration

	given map[string]bool // URL parameters given, compared even when zero
}

// Subscription is the driver subscription. Receives lease rows of the
// queue with FOR UPDATE SKIP LOCKED; a LISTEN connection shared by the
// handles of the pool (see listener.go) wakes a waiting receive when a
// message arrives.
type Subscription struct {
	db     *pgxpool.Pool
	own    func() // releases the URL opener's pool, when it made the handle
	st     *stmts
	secret string

	id, topicID int64
	idStr       string
	topic, name string
	lease       time.Duration
	maxAttempts int
	dlq         *string
	ordered     bool
	retention   time.Duration
	poll        time.Duration
	identity    string // the database, for TxHandler's same-database check
	pickSQL     string // the pick statement of this subscription's settings
	lastClean   atomic.Int64
	closed      atomic.Bool
	closing     chan struct{} // closed by Close, ending waiting receives
	listener    *listener
	waiters     *waiters // this subscription's receives on listener
	txAckedN    atomic.Int32
	txAcked     map[int64]int32 // acked in a TxHandler's transaction; guarded by heldMu
	heldMu      sync.Mutex
	held        map[int64]int32 // deliveries handed out and not settled: id → lease counter
}

var (
	_ driver.Subscription = (*Subscription)(nil)
	_ driver.Seeker       = (*Subscription)(nil)
	_ driver.DeadLetterer = (*Subscription)(nil)
	_ driver.Backlogger   = (*Subscription)(nil)
)

// NewSubscription returns subscription name of topic on pool, creating the
// schema's objects, the topic and the subscription (with opts' settings)
// if absent. Wrap it with mq.NewSubscription. The handles on one pool
// share one connection (from pool's config, outside the pool) for LISTEN,
// open while one of them is. Close does not close pool.
func NewSubscription(ctx context.Context, pool *pgxpool.Pool, topic, name string, opts *SubscriptionOptions) (*Subscription, error) {
	if pool == nil {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: nil pool"}
	}
	return newSubscription(ctx, pool, topic, name, opts)
}

func newSubscription(ctx context.Context, pool *pgxpool.Pool, topic, name string, opts *SubscriptionOptions) (*Subscription, error) {
	if opts == nil {
		opts = &SubscriptionOptions{}
	}
	schema, err := opts.schema()
	if err != nil {
		return nil, err
	}
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	if err := checkName("subscription", name); err != nil {
		return nil, err
	}
	if opts.Lease < 0 || opts.MaxAttempts < 0 || opts.Retention < 0 || opts.PollInterval < 0 {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: negative subscription option"}
	}
	if err := ensureSchema(ctx, pool, pool, schema); err != nil {
		return nil, err
	}
	st := stmtsFor(schema)
	cfg := driver.SubscriptionConfig{Lease: opts.Lease, MaxAttempts: opts.MaxAttempts, DeadLetterTopic: opts.DeadLetterTopic, Ordered: opts.Ordered, Retention: opts.Retention}
	if _, err := ensureSubscription(ctx, pool, st, topic, name, cfg, true); err != nil {
		return nil, err
	}
	s := &Subscription{db: pool, st: st, topic: topic, name: name, poll: opts.PollInterval}
	var leaseUS, retUS int64
	err = pool.QueryRow(ctx, `SELECT s.id, s.topic_id, (extract(epoch FROM s.lease) * 1e6)::bigint, s.max_attempts, s.dead_letter, s.ordered,
			(extract(epoch FROM s.retention) * 1e6)::bigint,
			`+identityExpr+`
		FROM `+schema+`.subscriptions s JOIN `+schema+`.topics t ON t.id = s.topic_id WHERE t.name = $1 AND s.name = $2`, topic, name).
		Scan(&s.id, &s.topicID, &leaseUS, &s.maxAttempts, &s.dlq, &s.ordered, &retUS, &s.identity)
	if err != nil {
		return nil, classified(err)
	}
	s.idStr = strconv.FormatInt(s.id, 10)
	s.retention = time.Duration(retUS) * time.Microsecond
	s.lease = opts.Lease
	if s.lease == 0 {
		s.lease = time.Duration(leaseUS) * time.Microsecond
	}
	if s.poll == 0 {
		s.poll = DefaultPollInterval
	}
	if err := s.checkSettings(opts); err != nil {
		return nil, err
	}
	s.pickSQL = st.pickFor(s.maxAttempts, s.ordered)
	s.held = make(map[int64]int32)
	s.txAcked = make(map[int64]int32)
	s.closing = make(chan struct{})
	s.listener, s.waiters = acquireListener(pool, st.channel, s.id, s.poll)
	return s, nil
}

// checkSettings refuses options that differ from the stored settings.
func (s *Subscription) checkSettings(o *SubscriptionOptions) error {
	var diffs []string
	check := func(param string, set bool, want, have any) {
		if (set || o.given[param]) && want != have {
			diffs = append(diffs, fmt.Sprintf("%s %v (stored: %v)", param, want, have))
		}
	}
	dlq := ""
	if s.dlq != nil {
		dlq = *s.dlq
	}
	check("max_attempts", o.MaxAttempts != 0, o.MaxAttempts, s.maxAttempts)
	check("dead_letter", o.DeadLetterTopic != "", o.DeadLetterTopic, dlq)
	check("ordered", o.Ordered, o.Ordered, s.ordered)
	check("retention", o.Retention != 0, o.Retention, s.retention)
	if len(diffs) > 0 {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: "postgres: subscription " + strconv.Quote(s.name) + " of topic " + strconv.Quote(s.topic) +
			" exists with other settings: " + strings.Join(diffs, ", ") + "; open it with the settings it was created with, or delete it first"}
	}
	return nil
}

// ensureSubscription creates the subscription (and its topic and
// dead-letter topic) when absent; it reports whether it created it. With
// orExisting false an existing subscription is AlreadyExists.
func ensureSubscription(ctx context.Context, db Querier, st *stmts, topic, name string, cfg driver.SubscriptionConfig, orExisting bool) (bool, error) {
	topicID, err := ensureTopic(ctx, db, st, topic, 0)
	if err != nil {
		return false, err
	}
	if cfg.MaxAttempts > 0 && cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = name + ".dlq"
	}
	var dlq *string
	if cfg.DeadLetterTopic != "" {
		dlq = &cfg.DeadLetterTopic
	}
	lease := cfg.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	tag, err := db.Exec(ctx, `INSERT INTO `+st.schema+`.subscriptions (topic_id, name, lease, max_attempts, dead_letter, ordered, retention)
		VALUES ($1, $2, $3 * interval '1 microsecond', $4, $5, $6, $7 * interval '1 microsecond') ON CONFLICT (topic_id, name) DO NOTHING`,
		topicID, name, lease.Microseconds(), cfg.MaxAttempts, dlq, cfg.Ordered, cfg.Retention.Microseconds())
	if err != nil {
		return false, classified(err)
	}
	created := tag.RowsAffected() == 1
	if !created && !orExisting {
		return false, &driver.Error{Code: driver.AlreadyExists, Msg: "postgres: subscription " + strconv.Quote(name) + " of topic " + strconv.Quote(topic) + " exists"}
	}
	if created && dlq != nil {
		// The dead-letter topic keeps its dead letters in a subscription
		// of the same name unless it has subscriptions already.
		dtID, err := ensureTopic(ctx, db, st, *dlq, 0)
		if err != nil {
			return created, err
		}
		if _, err := db.Exec(ctx, `INSERT INTO `+st.schema+`.subscriptions (topic_id, name)
			SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM `+st.schema+`.subscriptions WHERE topic_id = $1)
			ON CONFLICT (topic_id, name) DO NOTHING`, dtID, *dlq); err != nil {
			return created, classified(err)
		}
	}
	return created, nil
}

// identityExpr names the database a connection is on, for TxHandler's
// same-database check.
const identityExpr = `current_database() || '/' || coalesce(inet_server_addr()::text, 'local') || ':' || coalesce(inet_server_port(), 0)::text || '/' || pg_postmaster_start_time()::text`

// Row is the native message of a delivery (Delivery.As with a **Row):
// where it lives in the queue table. TxHandler uses it to ack in the
// handler's transaction.
type Row struct {
	// Schema, SubscriptionID and ID locate the row; Lease is its fencing
	// counter of deliveries.
	Schema         string
	SubscriptionID int64
	ID             int64
	Lease          int32
	sub            *Subscription
}

// ReceiveBatch implements driver.Subscription: it leases ready rows, and
// when there are none waits for a notification, the next due row or
// expired lease, or the poll interval, whichever comes first.
//
// It joins the subscription's waiters before each pick, so that a
// notification sent during the pick is not lost, and leaves them when it
// returns; a wake it got and did not use (see waiters) goes to the next.
// One that waited (a wake's chain) and took a full batch wakes the next
// too; one that took a full batch at once does not, since it did not take
// a wake's rows: in a drained queue's last batches that woke receives to
// find nothing.
func (s *Subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	waited := false // a notification or the timer ended a wait of this call
	for {
		if s.closed.Load() {
			return 0, errClosed
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		w := s.waiters.join()
		// The statements do not see ctx's cancellation: a pick canceled
		// after the server leased rows would leave them leased to nobody
		// until the lease ends, and pgx closes a connection whose query
		// is canceled. mq cancels waiting receives often (to wake them),
		// so ctx is only watched while waiting.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statementTimeout)
		n, err := s.pick(qctx, dst)
		if err != nil || n > 0 {
			cancel()
			if s.waiters.leave(w) || (waited && n == len(dst)) {
				s.waiters.wakeOne()
			}
			return n, driver.Redacted(err, s.secret)
		}
		if ctx.Err() != nil {
			// Ended while picking: the idle work (reap, cleanup, the next
			// due time) is for a receive that will wait, so it is left
			// to the next one.
			cancel()
			if s.waiters.leave(w) {
				s.waiters.wakeOne()
			}
			return 0, ctx.Err()
		}
		if w.wasWoken() {
			// A notification came while picking: something was sent, so
			// pick again rather than first asking for the next due time
			// (the idle work is for a receive that will wait).
			cancel()
			s.waiters.leave(w) // picking again uses the wake
			waited = true
			continue
		}
		wait, err := s.idle(qctx)
		cancel()
		if err != nil {
			if s.waiters.leave(w) {
				s.waiters.wakeOne()
			}
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, driver.Redacted(err, s.secret)
		}
		if wait <= 0 {
			s.waiters.leave(w) // picking again at once uses a wake
			waited = true
			continue
		}
		t := time.NewTimer(wait)
		if testHookIdle != nil {
			testHookIdle()
		}
		select {
		case <-ctx.Done():
			t.Stop()
			if s.waiters.leave(w) {
				s.waiters.wakeOne()
			}
			return 0, ctx.Err()
		case <-s.closing:
			t.Stop()
			if s.waiters.leave(w) {
				s.waiters.wakeOne()
			}
			return 0, errClosed
		case <-w.ch:
			t.Stop()
		case <-t.C:
			s.waiters.leave(w) // picking again uses a wake
		}
		waited = true
	}
}

// Set by tests only: testHookIdle is called when a receive found nothing
// and is about to wait for a notification, the timer or its end;
// testHookListening when a listener has (re)connected and woken its
// receives.
var testHookIdle, testHookListening func()

// pick leases up to len(dst) messages.
//
// The scan targets are shared by the rows (pgx gives each row's bytes and
// strings allocations of their own), and the Rows of one pick share one
// allocation: a receive of 100 makes a few allocations per message, not a
// dozen.
func (s *Subscription) pick(ctx context.Context, dst []driver.Message) (n int, err error) {
	rows, err := s.db.Query(ctx, s.pickSQL, s.id, len(dst), s.lease.Microseconds())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		id                    int64
		leases                int32
		msgID                 string
		body, attrs, key, ddp []byte
		published, until      time.Time
		attempts              int32
		dlReason, dlSource    *string
		dlAttempts            *int32
	)
	targets := [...]any{&id, &leases, &msgID, &body, &attrs, &key, &ddp, &published, &attempts, &until, &dlReason, &dlAttempts, &dlSource}
	for rows.Next() && n < len(dst) {
		if err := rows.Scan(targets[:]...); err != nil {
			return 0, err
		}
		extra := 0
		if dlReason != nil {
			extra = 3
		}
		m, err := decodeAttrs(attrs, extra)
		if err != nil {
			return 0, err
		}
		if dlReason != nil {
			m[driver.AttrDeadLetterReason] = *dlReason
			if dlAttempts != nil {
				m[driver.AttrAttempts] = strconv.Itoa(int(*dlAttempts))
			}
			if dlSource != nil {
				m[driver.AttrSource] = *dlSource
			}
		}
		dst[n] = driver.Message{
			ID: msgID, Body: body, Attributes: m, Key: string(key), DedupID: string(ddp), PublishedAt: published,
			AckID: driver.AckID{Seq: uint64(id), Ref: leases}, Attempt: int(attempts), Deadline: until,
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	natives := make([]Row, n)
	s.heldMu.Lock()
	for i := range dst[:n] {
		m := &dst[i]
		id, lease := int64(m.AckID.Seq), m.AckID.Ref.(int32)
		s.held[id] = lease
		natives[i] = Row{Schema: s.st.schema, SubscriptionID: s.id, ID: id, Lease: lease, sub: s}
		m.Native = &natives[i]
	}
	s.heldMu.Unlock()
	// UPDATE ... RETURNING does not keep the order of the picked rows.
	slices.SortFunc(dst[:n], func(a, b driver.Message) int { return cmp.Compare(a.AckID.Seq, b.AckID.Seq) })
	return n, nil
}

// idle runs when a receive found nothing: it dead-letters messages whose
// lease ended on their last attempt, cleans up at most once per poll
// interval, and returns how long to wait: until the next delayed message
// is due or lease ends (nextDueSQL), or the poll interval, whichever is
// first.
func (s *Subscription) idle(ctx context.Context) (time.Duration, error) {
	if s.maxAttempts > 0 {
		var moved, notified int64
		if err := s.db.QueryRow(ctx, s.st.reap, s.id, s.maxAttempts, s.dlq, s.name, s.st.channel, cleanBatch).Scan(&moved, &notified); err != nil {
			return 0, err
		}
		if moved > 0 {
			return 0, nil
		}
	}
	now := time.Now().UnixNano()
	if last := s.lastClean.Load(); now-last >= int64(s.poll) && s.lastClean.CompareAndSwap(last, now) {
		if s.retention > 0 {
			if _, err := s.db.Exec(ctx, s.st.cleanAcked, s.id, s.retention.Microseconds(), cleanBatch); err != nil {
				return 0, err
			}
		}
		if _, err := s.db.Exec(ctx, s.st.cleanDedup, s.topicID, cleanBatch); err != nil {
			return 0, err
		}
	}
	var due *float64
	if err := s.db.QueryRow(ctx, s.st.nextDue, s.id).Scan(&due); err != nil {
		return 0, err
	}
	wait := s.poll
	if due != nil {
		// A little past the due time, so the row is due when we look.
		wait = min(wait, time.Duration(*due*float64(time.Second))+time.Millisecond)
	}
	return max(wait, time.Millisecond), nil
}

// idArrays splits AckIDs into the id and lease-counter arrays.
func idArrays(ids []driver.AckID) ([]int64, []int32) {
	rowIDs := make([]int64, len(ids))
	leases := make([]int32, len(ids))
	for i, a := range ids {
		rowIDs[i] = int64(a.Seq)
		leases[i], _ = a.Ref.(int32)
	}
	return rowIDs, leases
}

// settled forgets deliveries that were acked, nacked or dead-lettered.
func (s *Subscription) settled(done []int64) {
	s.heldMu.Lock()
	for _, id := range done {
		delete(s.held, id)
	}
	s.heldMu.Unlock()
}

// results turns the ids a statement touched into per-item errors.
func results(ids []driver.AckID, done []int64) error {
	if len(done) == len(ids) {
		return nil
	}
	ok := make(map[int64]bool, len(done))
	for _, id := range done {
		ok[id] = true
	}
	// Always a *BatchError, also for one id: Extend and the Consumer's
	// transactional acks clear the items acked in a committed transaction.
	errs := make([]error, len(ids))
	for i, a := range ids {
		if !ok[int64(a.Seq)] {
			errs[i] = driver.ErrLeaseExpired()
		}
	}
	return &driver.BatchError{Errs: errs}
}

// collectIDs reads the ids rows returns (about n) and closes rows.
func collectIDs(rows pgx.Rows, n int) ([]int64, error) {
	defer rows.Close()
	done := make([]int64, 0, n)
	var id int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		done = append(done, id)
	}
	return done, rows.Err()
}

func (s *Subscription) touched(ctx context.Context, sql string, settles bool, ids []driver.AckID, args ...any) error {
	if s.closed.Load() {
		return errClosed
	}
	rowIDs, leases := idArrays(ids)
	rows, err := s.db.Query(ctx, sql, append([]any{rowIDs, leases, s.id}, args...)...)
	if err != nil {
		return driver.Redacted(err, s.secret)
	}
	done, err := collectIDs(rows, len(ids))
	if err != nil {
		return driver.Redacted(err, s.secret)
	}
	if settles {
		s.settled(done)
	}
	return results(ids, done)
}

// Ack implements driver.Subscription: the rows are deleted, or marked
// acked when the subscription retains messages.
func (s *Subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	if s.txAckedN.Load() > 0 {
		if rest, at, found := s.ackedInTx(ids); found {
			return s.ackRest(ctx, ids, rest, at)
		}
	}
	return s.ackSQL(ctx, ids)
}

func (s *Subscription) ackSQL(ctx context.Context, ids []driver.AckID) error {
	if s.retention > 0 {
		return s.touched(ctx, s.st.ackRetain, true, ids)
	}
	return s.touched(ctx, s.st.ack, true, ids)
}

// markAckedInTx records that a TxHandler's committed transaction acked
// the delivery, so that the Consumer's Ack of it succeeds.
func (s *Subscription) markAckedInTx(id int64, lease int32) {
	s.heldMu.Lock()
	delete(s.held, id)
	s.txAcked[id] = lease
	s.txAckedN.Store(int32(len(s.txAcked)))
	s.heldMu.Unlock()
}

// ackedInTx takes the ids acked in a transaction out of ids: it returns
// the others and their indexes in ids, and whether any was.
func (s *Subscription) ackedInTx(ids []driver.AckID) (rest []driver.AckID, at []int, found bool) {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	for i, a := range ids {
		if l, ok := s.txAcked[int64(a.Seq)]; ok && a.Ref == any(l) {
			delete(s.txAcked, int64(a.Seq))
			found = true
			continue
		}
		rest = append(rest, a)
		at = append(at, i)
	}
	s.txAckedN.Store(int32(len(s.txAcked)))
	return rest, at, found
}

// ackRest acks rest (ids[at[j]]) and reports per-item results over ids.
func (s *Subscription) ackRest(ctx context.Context, ids, rest []driver.AckID, at []int) error {
	if len(rest) == 0 {
		return nil
	}
	return driver.SubBatchResult(len(ids), at, s.ackSQL(ctx, rest))
}

// Extend implements driver.Extender.
func (s *Subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	err := s.touched(ctx, s.st.extend, false, ids, lease.Microseconds())
	if be, ok := err.(*driver.BatchError); ok && s.txAckedN.Load() > 0 {
		// Acked in a committed transaction, not yet by the Consumer:
		// nothing to extend, and nothing lost.
		s.heldMu.Lock()
		for i, a := range ids {
			if l, ok := s.txAcked[int64(a.Seq)]; ok && a.Ref == any(l) {
				be.Errs[i] = nil
			}
		}
		s.heldMu.Unlock()
		for _, e := range be.Errs {
			if e != nil {
				return be
			}
		}
		return nil
	}
	return err
}

// Nack implements driver.Subscription: available again after delay, or
// dead-lettered in the same statement at max attempts.
func (s *Subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.nack(ctx, ids, delay)
}

func (s *Subscription) nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	rowIDs, leases := idArrays(ids)
	reason := "nacked on attempt " + strconv.Itoa(s.maxAttempts) + " (max attempts)"
	var done []int64
	var notified int64
	err := s.db.QueryRow(ctx, s.st.nack, rowIDs, leases, s.id, delay.Microseconds(), s.maxAttempts, s.dlq, reason, s.name, s.st.channel).Scan(&done, &notified)
	if err != nil {
		return driver.Redacted(err, s.secret)
	}
	s.settled(done)
	return results(ids, done)
}

// DeadLetter implements driver.DeadLetterer: the rows move to the
// dead-letter topic's subscriptions in one statement (dropped when the
// subscription has no dead-letter topic).
func (s *Subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	if s.closed.Load() {
		return errClosed
	}
	ids := make([]driver.AckID, len(items))
	reasons := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.AckID
		reasons[i] = strings.ReplaceAll(it.Reason, "\x00", "")
	}
	rowIDs, leases := idArrays(ids)
	var done []int64
	var notified int64
	err := s.db.QueryRow(ctx, s.st.deadLetter, rowIDs, leases, s.id, reasons, s.dlq, s.name, s.st.channel).Scan(&done, &notified)
	if err != nil {
		return driver.Redacted(err, s.secret)
	}
	s.settled(done)
	return results(ids, done)
}

// Seek implements driver.Seeker: retained (acked) messages published at
// or after t become available again, attempts starting over.
func (s *Subscription) Seek(ctx context.Context, t time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	var n int64
	var unused any
	err := s.db.QueryRow(ctx, s.st.seek, s.id, t, s.st.channel).Scan(&n, &unused)
	return driver.Redacted(err, s.secret)
}

// Backlog implements driver.Backlogger: the messages of the subscription
// that are not settled and not leased (delayed ones included).
func (s *Subscription) Backlog(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var n int64
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM `+s.st.schema+`.queue WHERE sub_id = $1 AND acked_at IS NULL
		AND (locked_until IS NULL OR locked_until <= now())`, s.id).Scan(&n)
	return n, driver.Redacted(err, s.secret)
}

// Info implements driver.Subscription.
func (s *Subscription) Info() driver.SubscriptionInfo {
	return driver.SubscriptionInfo{Name: s.name, Lease: s.lease, MaxAttempts: s.maxAttempts, Ordered: s.ordered, HasDeadLetter: s.dlq != nil}
}

// Capabilities implements driver.Subscription.
func (s *Subscription) Capabilities() driver.Capabilities { return capabilities }

// As implements driver.Common: **pgxpool.Pool and *Querier.
func (s *Subscription) As(i any) bool { return asDB(s.db, i) }

// ErrorAs implements driver.Common.
func (s *Subscription) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (s *Subscription) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common: it hands back the deliveries it handed
// out that were not settled (as Nack without delay: available at once,
// dead-lettered at max attempts), stops the listener and closes the pool
// when the URL opener made it.
func (s *Subscription) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.heldMu.Lock()
	var ids []driver.AckID
	for id, l := range s.held {
		ids = append(ids, driver.AckID{Seq: uint64(id), Ref: l})
	}
	s.held = map[int64]int32{}
	s.heldMu.Unlock()
	var err error
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = s.nack(ctx, ids, 0)
		cancel()
		if _, ok := err.(*driver.BatchError); ok {
			err = nil // settled or expired meanwhile: nothing to hand back
		}
	}
	close(s.closing)
	s.listener.release(s.id)
	if s.own != nil {
		s.own()
	}
	return err
}
