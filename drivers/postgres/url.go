package postgres

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// The URL schemes the driver registers with mq.
const (
	Scheme      = "postgres"
	SchemeAlias = "postgresql"
)

func init() { mq.RegisterSchemes(new(URLOpener), Scheme, SchemeAlias) }

// URLOpener opens postgres:// and postgresql:// URLs (see the package
// doc). Its zero value is what the driver registers with mq's default mux.
// The handles it opens with the same connection string (the URL without
// portmq's parameters) share one pgxpool.Pool, and so one LISTEN
// connection per schema; the pool closes with the last of them.
type URLOpener struct {
	mu    sync.Mutex
	pools map[string]*sharedPool
}

// sharedPool is a pool and how many open handles use it.
type sharedPool struct {
	pool *pgxpool.Pool
	refs int
}

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

// portmq's own query parameters, by kind of URL; schema is on every URL.
var (
	topicParams = []string{"dedup_window", "schema", "topic"}
	subParams   = []string{"dead_letter", "max_attempts", "ordered", "poll_interval", "retention", "schema", "subscription", "topic", "visibility"}
	adminParams = []string{"schema"}
)

// libpqParams are the connection parameters handed to pgx unchanged:
// libpq's, pgx's and pgxpool's. Any other parameter is an error; set a
// server setting with options=-c name=value.
var libpqParams = []string{
	"application_name", "channel_binding", "connect_timeout", "dbname", "default_query_exec_mode",
	"description_cache_capacity", "fallback_application_name", "gssencmode", "host", "krbspn", "krbsrvname",
	"load_balance_hosts", "min_read_buffer_size", "options", "passfile", "password", "pool_health_check_period",
	"pool_max_conn_idle_time", "pool_max_conn_lifetime", "pool_max_conn_lifetime_jitter", "pool_max_conns",
	"pool_min_conns", "pool_min_idle_conns", "port", "search_path", "service", "servicefile", "sslcert", "sslkey",
	"sslmode", "sslnegotiation", "sslpassword", "sslrootcert", "sslsni", "statement_cache_capacity",
	"target_session_attrs", "user",
}

func urlError(format string, args ...any) error {
	return driver.QueryError(prefix, fmt.Sprintf(format, args...))
}

// parsed is a URL split into what pgx gets and portmq's parameters.
type parsed struct {
	connString string // the URL without portmq's parameters
	secret     string // the password, for redaction
	q          driver.Query
	schema     string
}

func parse(u *url.URL, allowed []string) (*parsed, error) {
	switch {
	case u == nil:
		return nil, urlError("nil URL")
	case u.Scheme != Scheme && u.Scheme != SchemeAlias:
		return nil, urlError("scheme %q is not postgres or postgresql", u.Scheme)
	case u.Opaque != "":
		return nil, urlError("want postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE?...")
	case u.Fragment != "":
		return nil, urlError("PostgreSQL URLs take no fragment")
	}
	all, err := driver.ParseQuery(prefix, u, append(slices.Clone(allowed), libpqParams...)...)
	if err != nil {
		return nil, err
	}
	p := &parsed{q: driver.Query{}}
	pass := url.Values{}
	for k, v := range all {
		if slices.Contains(allowed, k) {
			p.q[k] = v
		} else {
			pass.Set(k, v)
		}
	}
	if pw, ok := u.User.Password(); ok {
		p.secret = pw
	}
	if pw := pass.Get("password"); pw != "" {
		p.secret = pw
	}
	if p.schema, err = checkSchema(p.q["schema"]); err != nil {
		return nil, p.q.Bad(prefix, "schema", "a schema name (1 to 40 bytes of a-z, 0-9 and _, not starting with a digit)")
	}
	c := *u
	c.RawQuery = pass.Encode()
	c.ForceQuery = false
	p.connString = c.String()
	return p, nil
}

// configError is the error of a connection string pgx refuses: invalid
// argument, wrapping driver.ErrInvalidURL, without the password.
func configError(err error, secret string) error {
	return &driver.Error{Code: driver.InvalidArgument, Msg: prefix, Err: fmt.Errorf("%w: %w", driver.ErrInvalidURL, driver.Redacted(err, secret))}
}

// pool returns the opener's pool for the URL's connection string, opening
// it on first use, and makes sure the schema exists. The caller gives the
// pool back with release once, when its handle closes (or failed to open).
func (o *URLOpener) pool(ctx context.Context, p *parsed) (pool *pgxpool.Pool, release func(), err error) {
	o.mu.Lock()
	sp := o.pools[p.connString]
	if sp == nil {
		cfg, err := pgxpool.ParseConfig(p.connString)
		if err != nil {
			o.mu.Unlock()
			return nil, nil, configError(err, p.secret)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			o.mu.Unlock()
			return nil, nil, classified(driver.Redacted(err, p.secret))
		}
		if o.pools == nil {
			o.pools = map[string]*sharedPool{}
		}
		sp = &sharedPool{pool: pool}
		o.pools[p.connString] = sp
	}
	sp.refs++
	o.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			o.mu.Lock()
			sp.refs--
			last := sp.refs == 0
			if last {
				delete(o.pools, p.connString)
			}
			o.mu.Unlock()
			if last {
				sp.pool.Close()
			}
		})
	}
	if err := ensureSchema(ctx, sp.pool, sp.pool, p.schema); err != nil {
		release()
		return nil, nil, classified(driver.Redacted(err, p.secret))
	}
	return sp.pool, release, nil
}

func (p *parsed) name(k string) (string, error) {
	v, ok := p.q[k]
	if !ok {
		return "", urlError("missing parameter %q", k)
	}
	if v == "" || len(v) > 255 || strings.IndexByte(v, 0) >= 0 {
		return "", p.q.Bad(prefix, k, "a name of 1 to 255 bytes without NUL")
	}
	return v, nil
}

// OpenTopic opens postgres://HOST/DB?topic=NAME, creating the topic if
// absent.
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	p, err := parse(u, topicParams)
	if err != nil {
		return nil, err
	}
	name, err := p.name("topic")
	if err != nil {
		return nil, err
	}
	window, err := p.q.Duration(prefix, "dedup_window")
	if err != nil {
		return nil, err
	}
	pool, release, err := o.pool(ctx, p)
	if err != nil {
		return nil, err
	}
	st := stmtsFor(p.schema)
	if _, err := ensureTopic(ctx, pool, st, name, window.Microseconds()); err != nil {
		release()
		return nil, driver.Redacted(err, p.secret)
	}
	if _, ok := p.q["dedup_window"]; ok {
		if err := checkTopicSetting(ctx, pool, st, name, window); err != nil {
			release()
			return nil, err
		}
	}
	return &Topic{db: pool, own: release, st: st, name: name, secret: p.secret}, nil
}

func checkTopicSetting(ctx context.Context, db Querier, st *stmts, name string, window time.Duration) error {
	var us int64
	err := db.QueryRow(ctx, `SELECT (extract(epoch FROM dedup_window) * 1e6)::bigint FROM `+st.schema+`.topics WHERE name = $1`, name).Scan(&us)
	if err != nil {
		return classified(err)
	}
	if us != window.Microseconds() {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: fmt.Sprintf("postgres: topic %q exists with dedup_window %v, not %v; open it with the settings it was created with", name, time.Duration(us)*time.Microsecond, window)}
	}
	return nil
}

// OpenSubscription opens
// postgres://HOST/DB?topic=NAME&subscription=NAME&..., creating the topic
// and the subscription if absent.
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	p, err := parse(u, subParams)
	if err != nil {
		return nil, err
	}
	topic, err := p.name("topic")
	if err != nil {
		return nil, err
	}
	name, err := p.name("subscription")
	if err != nil {
		return nil, err
	}
	opts, err := p.subscriptionOptions()
	if err != nil {
		return nil, err
	}
	pool, release, err := o.pool(ctx, p)
	if err != nil {
		return nil, err
	}
	s, err := newSubscription(ctx, pool, topic, name, opts)
	if err != nil {
		release()
		return nil, driver.Redacted(err, p.secret)
	}
	s.own, s.secret = release, p.secret
	return s, nil
}

func (p *parsed) subscriptionOptions() (*SubscriptionOptions, error) {
	q := p.q
	o := &SubscriptionOptions{Options: Options{Schema: p.schema}, given: map[string]bool{}}
	for k := range q {
		o.given[k] = true
	}
	var err error
	if o.Lease, err = q.DurationIn(prefix, "visibility", time.Millisecond, math.MaxInt64); err != nil {
		return nil, err
	}
	if o.MaxAttempts, err = q.Int(prefix, "max_attempts"); err != nil {
		return nil, err
	}
	if o.given["dead_letter"] {
		if o.DeadLetterTopic, err = p.name("dead_letter"); err != nil {
			return nil, err
		}
	}
	if o.Ordered, err = q.Bool(prefix, "ordered"); err != nil {
		return nil, err
	}
	if o.Retention, err = q.Duration(prefix, "retention"); err != nil {
		return nil, err
	}
	if o.PollInterval, err = q.DurationIn(prefix, "poll_interval", 10*time.Millisecond, math.MaxInt64); err != nil {
		return nil, err
	}
	return o, nil
}

// OpenAdmin opens postgres://HOST/DB?schema=NAME.
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	p, err := parse(u, adminParams)
	if err != nil {
		return nil, err
	}
	pool, release, err := o.pool(ctx, p)
	if err != nil {
		return nil, err
	}
	return &Admin{db: pool, own: release, st: stmtsFor(p.schema), secret: p.secret}, nil
}
