package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Limits.
const (
	// MaxBodySize is the largest body the driver takes: PostgreSQL's
	// bytea holds up to 1 GB, but rows this large belong elsewhere.
	MaxBodySize = 64 << 20
	// MaxBatch is the most messages of one SendBatch statement and the
	// most deliveries of one receive, ack, nack or extend statement.
	MaxBatch = 1000
)

var capabilities = driver.Capabilities{
	Lease: driver.Native, NackDelay: driver.Native, Attempts: driver.Native, DeadLetter: driver.Native,
	Dedup: driver.Native, Ordering: driver.Native, Delay: driver.Native, Seek: driver.Native,
	MaxBodySize: MaxBodySize, MaxBatch: MaxBatch,
}

// Options configure the handles of the plain constructors. nil means the
// defaults.
type Options struct {
	// Schema is the PostgreSQL schema of portmq's tables (DefaultSchema
	// when ""). It is created on first use when missing.
	Schema string
}

func (o *Options) schema() (string, error) {
	if o == nil {
		return checkSchema("")
	}
	return checkSchema(o.Schema)
}

// Topic is the driver topic: SendBatch inserts one row per message into
// the queue of each subscription of the topic.
type Topic struct {
	db     Querier
	own    func() // releases the URL opener's pool, when it made the handle
	st     *stmts
	name   string
	closed atomic.Bool
	secret string
}

var _ driver.Topic = (*Topic)(nil)

// NewTopic returns the topic name of schema opts.Schema on pool, creating
// the schema's objects if they are missing and the topic if absent. Wrap
// it with mq.NewProducer. Close does not close pool.
func NewTopic(ctx context.Context, pool *pgxpool.Pool, name string, opts *Options) (*Topic, error) {
	if pool == nil {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: nil pool"}
	}
	schema, err := opts.schema()
	if err != nil {
		return nil, err
	}
	if err := checkName("topic", name); err != nil {
		return nil, err
	}
	if err := ensureSchema(ctx, pool, pool, schema); err != nil {
		return nil, err
	}
	st := stmtsFor(schema)
	if _, err := ensureTopic(ctx, pool, st, name, 0); err != nil {
		return nil, err
	}
	return &Topic{db: pool, st: st, name: name}, nil
}

// ensureTopic creates the topic if absent and returns its id.
func ensureTopic(ctx context.Context, db Querier, st *stmts, name string, dedup int64) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `WITH i AS (INSERT INTO `+st.schema+`.topics (name, dedup_window) VALUES ($1, $2 * interval '1 microsecond')
		ON CONFLICT (name) DO NOTHING RETURNING id)
		SELECT id FROM i UNION ALL SELECT id FROM `+st.schema+`.topics WHERE name = $1`, name, dedup).Scan(&id)
	return id, classified(err)
}

func checkName(what, name string) error {
	if name == "" || len(name) > 255 || containsNUL(name) {
		return &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: " + what + " name must be 1 to 255 bytes without NUL"}
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// SendBatch implements driver.Topic.
func (t *Topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.closed.Load() {
		return errClosed
	}
	var a sendArrays
	return driver.Redacted(sendBatch(ctx, t.db, t.st, t.name, msgs, &a), t.secret)
}

// sendArrays are the array parameters of sendSQL.
type sendArrays struct {
	ids            []string
	bodies, attrs  [][]byte
	keys, dedupIDs [][]byte
	delays         []int64
}

func sendBatch(ctx context.Context, db Querier, st *stmts, topic string, msgs []driver.Message, a *sendArrays) error {
	n := len(msgs)
	if n == 0 {
		return nil
	}
	a.ids = make([]string, n)
	a.bodies = make([][]byte, n)
	bare := true // bodies alone: no attributes, keys, DedupIDs or delays
	for i := range msgs {
		m := &msgs[i]
		a.ids[i] = newID()
		a.bodies[i] = m.Body
		if a.bodies[i] == nil {
			a.bodies[i] = []byte{}
		}
		bare = bare && len(m.Attributes) == 0 && m.Key == "" && m.DedupID == "" && m.Delay <= 0
	}
	var exists bool
	var notified int64
	var err error
	if bare {
		err = db.QueryRow(ctx, st.sendBodies, topic, a.ids, a.bodies, st.channel).Scan(&exists, &notified)
	} else {
		a.attrs = make([][]byte, n)
		a.keys = make([][]byte, n)
		a.dedupIDs = make([][]byte, n)
		a.delays = make([]int64, n)
		q, dedup := st.sendPlain, [][]byte(nil)
		for i := range msgs {
			m := &msgs[i]
			a.attrs[i] = encodeAttrs(m.Attributes)
			if m.Key != "" {
				a.keys[i] = []byte(m.Key)
			}
			if m.DedupID != "" {
				a.dedupIDs[i] = []byte(m.DedupID)
				q, dedup = st.send, a.dedupIDs
			}
			a.delays[i] = m.Delay.Microseconds()
		}
		err = db.QueryRow(ctx, q, topic, a.ids, a.bodies, a.attrs, a.keys, dedup, a.delays, st.channel).Scan(&exists, &notified)
	}
	if err != nil {
		return err
	}
	if !exists {
		return &driver.Error{Code: driver.NotFound, Msg: "postgres: topic " + strconv.Quote(topic) + " does not exist in schema " + st.schema}
	}
	for i := range msgs {
		msgs[i].ID = a.ids[i]
	}
	return nil
}

// idPrefix makes IDs unique across processes; idSeq within one.
var (
	idPrefix = func() string {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	idSeq atomic.Uint64
)

func newID() string { return idPrefix + strconv.FormatUint(idSeq.Add(1), 36) }

// Capabilities implements driver.Topic.
func (t *Topic) Capabilities() driver.Capabilities { return capabilities }

// As implements driver.Common: *pgxpool.Pool (when the topic runs on a
// pool) and the Querier it runs on.
func (t *Topic) As(i any) bool { return asDB(t.db, i) }

func asDB(db Querier, i any) bool {
	switch p := i.(type) {
	case **pgxpool.Pool:
		pool, ok := db.(*pgxpool.Pool)
		if ok {
			*p = pool
		}
		return ok
	case *Querier:
		*p = db
		return true
	}
	return false
}

// ErrorAs implements driver.Common.
func (t *Topic) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (t *Topic) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common.
func (t *Topic) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if t.own != nil {
		t.own()
	}
	return nil
}

// txTopic is a driver topic bound to a caller's transaction, for Send.
type txTopic struct {
	tx    Querier
	st    *stmts
	topic string
}

func (t *txTopic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	var a sendArrays
	return sendBatch(ctx, t.tx, t.st, t.topic, msgs, &a)
}
func (t *txTopic) Capabilities() driver.Capabilities    { return capabilities }
func (t *txTopic) As(i any) bool                        { return asDB(t.tx, i) }
func (t *txTopic) ErrorAs(err error, i any) bool        { return errorAs(err, i) }
func (t *txTopic) ErrorCode(err error) driver.ErrorCode { return classify(err) }
func (t *txTopic) Close() error                         { return nil }

var stmtCache sync.Map // schema → *stmts

func stmtsFor(schema string) *stmts {
	if v, ok := stmtCache.Load(schema); ok {
		return v.(*stmts)
	}
	v, _ := stmtCache.LoadOrStore(schema, newStmts(schema))
	return v.(*stmts)
}

// Send sends msgs to topic (in DefaultSchema) inside the caller's
// transaction tx: the subscriptions see them exactly when tx commits, and
// never if it rolls back (the transactional outbox). Messages are checked
// as Producer.Send checks them; IDs are set on success. tx may be a
// pgx.Tx, or a *pgx.Conn or *pgxpool.Pool for a send of its own. For a
// *sql.Tx of database/sql over pgx's stdlib, send through the pgx.Conn
// behind it (stdlib's Conn.Raw) inside the same transaction.
func Send(ctx context.Context, tx Querier, topic string, msgs ...*mq.Message) error {
	return SendSchema(ctx, tx, "", topic, msgs...)
}

// SendSchema is Send for the topic of schema (DefaultSchema when "").
func SendSchema(ctx context.Context, tx Querier, schema, topic string, msgs ...*mq.Message) error {
	if tx == nil {
		return &mq.Error{Code: mq.InvalidArgument, Op: "postgres.Send", Msg: "nil transaction"}
	}
	s, err := checkSchema(schema)
	if err != nil {
		return err
	}
	p, err := mq.NewProducer(&txTopic{tx: tx, st: stmtsFor(s), topic: topic})
	if err != nil {
		return err
	}
	if len(msgs) == 1 {
		return p.Send(ctx, msgs[0])
	}
	return p.SendBatch(ctx, msgs)
}
