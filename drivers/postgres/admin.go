package postgres

import (
	"context"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq/driver"
)

// Admin provisions topics and subscriptions in one schema.
type Admin struct {
	db     Querier
	own    func() // releases the URL opener's pool, when it made the handle
	st     *stmts
	secret string
	closed atomic.Bool
}

var _ driver.Admin = (*Admin)(nil)

// NewAdmin returns an Admin of schema opts.Schema on pool, creating the
// schema's objects if missing. Wrap it with mq.NewAdmin. Close does not
// close pool.
func NewAdmin(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Admin, error) {
	if pool == nil {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: nil pool"}
	}
	schema, err := opts.schema()
	if err != nil {
		return nil, err
	}
	if err := ensureSchema(ctx, pool, pool, schema); err != nil {
		return nil, err
	}
	return &Admin{db: pool, st: stmtsFor(schema)}, nil
}

// CreateTopic implements driver.Admin.
func (a *Admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := a.check("topic", name); err != nil {
		return err
	}
	tag, err := a.db.Exec(ctx, `INSERT INTO `+a.st.schema+`.topics (name, dedup_window) VALUES ($1, $2 * interval '1 microsecond') ON CONFLICT (name) DO NOTHING`,
		name, cfg.DedupWindow.Microseconds())
	if err != nil {
		return driver.Redacted(err, a.secret)
	}
	if tag.RowsAffected() == 0 {
		return &driver.Error{Code: driver.AlreadyExists, Msg: "postgres: topic " + strconv.Quote(name) + " exists"}
	}
	return nil
}

// CreateSubscription implements driver.Admin. A dead-letter topic (cfg's,
// or NAME.dlq when cfg.MaxAttempts is set) is created too, with a
// subscription of its own name when it has none, so dead letters are
// kept.
func (a *Admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if err := a.check("topic", topic); err != nil {
		return err
	}
	if err := a.check("subscription", name); err != nil {
		return err
	}
	var exists bool
	if err := a.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+a.st.schema+`.topics WHERE name = $1)`, topic).Scan(&exists); err != nil {
		return driver.Redacted(err, a.secret)
	}
	if !exists {
		return &driver.Error{Code: driver.NotFound, Msg: "postgres: topic " + strconv.Quote(topic) + " does not exist"}
	}
	_, err := ensureSubscription(ctx, a.db, a.st, topic, name, cfg, false)
	return driver.Redacted(err, a.secret)
}

// DeleteTopic implements driver.Admin: the topic, its subscriptions and
// their messages.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	if a.closed.Load() {
		return errClosed
	}
	var n int64
	err := a.db.QueryRow(ctx, `WITH t AS (DELETE FROM `+a.st.schema+`.topics WHERE name = $1 RETURNING id),
		s AS (DELETE FROM `+a.st.schema+`.subscriptions WHERE topic_id IN (SELECT id FROM t) RETURNING id),
		q AS (DELETE FROM `+a.st.schema+`.queue WHERE sub_id IN (SELECT id FROM s)),
		d AS (DELETE FROM `+a.st.schema+`.dedup WHERE topic_id IN (SELECT id FROM t))
		SELECT count(*) FROM t`, name).Scan(&n)
	if err != nil {
		return driver.Redacted(err, a.secret)
	}
	if n == 0 {
		return &driver.Error{Code: driver.NotFound, Msg: "postgres: topic " + strconv.Quote(name) + " does not exist"}
	}
	return nil
}

// DeleteSubscription implements driver.Admin: the subscription and its
// messages.
func (a *Admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	if a.closed.Load() {
		return errClosed
	}
	var n int64
	err := a.db.QueryRow(ctx, `WITH s AS (DELETE FROM `+a.st.schema+`.subscriptions s USING `+a.st.schema+`.topics t
			WHERE s.topic_id = t.id AND t.name = $1 AND s.name = $2 RETURNING s.id),
		q AS (DELETE FROM `+a.st.schema+`.queue WHERE sub_id IN (SELECT id FROM s))
		SELECT count(*) FROM s`, topic, name).Scan(&n)
	if err != nil {
		return driver.Redacted(err, a.secret)
	}
	if n == 0 {
		return &driver.Error{Code: driver.NotFound, Msg: "postgres: subscription " + strconv.Quote(name) + " of topic " + strconv.Quote(topic) + " does not exist"}
	}
	return nil
}

func (a *Admin) check(what, name string) error {
	if a.closed.Load() {
		return errClosed
	}
	return checkName(what, name)
}

// As implements driver.Common.
func (a *Admin) As(i any) bool { return asDB(a.db, i) }

// ErrorAs implements driver.Common.
func (a *Admin) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (a *Admin) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common.
func (a *Admin) Close() error {
	if a.closed.Swap(true) {
		return nil
	}
	if a.own != nil {
		a.own()
	}
	return nil
}
