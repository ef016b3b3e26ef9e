package redis

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// The URL schemes the driver registers with mq.
const (
	Scheme    = "redis"
	SchemeTLS = "rediss"
)

func init() { mq.RegisterSchemes(new(URLOpener), Scheme, SchemeTLS) }

// URLOpener opens redis:// and rediss:// URLs (see the package doc). Its
// zero value is what the driver registers with mq's default mux. Handles
// opened through one URLOpener with the same server, credentials and
// database share one go-redis client (one connection pool), and so the
// reaper and delay loops of a subscription.
type URLOpener struct {
	// TLSConfig is used for rediss URLs; nil means the system roots and
	// the URL's host name.
	TLSConfig *tls.Config

	mu      sync.Mutex
	clients map[string]*sharedClient
}

type sharedClient struct {
	c    *goredis.Client
	refs int
}

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

// Query parameters by kind of URL. Connection parameters are allowed on
// every URL.
var (
	connParams  = []string{"dial_timeout", "prefix"}
	topicParams = []string{"dedup", "maxlen", "retention", "topic"}
	subParams   = []string{"dead_letter", "lease", "max_attempts", "ordered", "subscription", "topic"}
)

// Defaults.
const (
	DefaultLease       = 30 * time.Second
	DefaultPrefix      = "portmq"
	DefaultMaxBodySize = 64 << 20
	defaultDialTimeout = 5 * time.Second
	maxNameLen         = 200
)

// OpenTopic opens redis://HOST/DB?topic=T&... .
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	q, err := parseURL(u, topicParams)
	if err != nil {
		return nil, err
	}
	name, err := q.name("topic")
	if err != nil {
		return nil, err
	}
	opts := &TopicOptions{Prefix: q.prefix}
	if opts.DedupWindow, err = q.Duration(prefix, "dedup"); err != nil {
		return nil, err
	}
	if opts.Retention, err = q.Duration(prefix, "retention"); err != nil {
		return nil, err
	}
	maxlen, err := q.Int(prefix, "maxlen")
	if err != nil {
		return nil, err
	}
	opts.MaxLen = int64(maxlen)
	c, release, err := o.client(q)
	if err != nil {
		return nil, err
	}
	t, err := openTopic(ctx, c, name, opts)
	if err != nil {
		release()
		return nil, coded(err)
	}
	t.release = release
	return t, nil
}

// OpenSubscription opens redis://HOST/DB?topic=T&subscription=S&... .
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	q, err := parseURL(u, subParams)
	if err != nil {
		return nil, err
	}
	topic, err := q.name("topic")
	if err != nil {
		return nil, err
	}
	name, err := q.name("subscription")
	if err != nil {
		return nil, err
	}
	opts := &SubscriptionOptions{Prefix: q.prefix}
	if opts.Lease, err = q.DurationIn(prefix, "lease", time.Millisecond, math.MaxInt64); err != nil {
		return nil, err
	}
	if opts.MaxAttempts, err = q.Int(prefix, "max_attempts"); err != nil {
		return nil, err
	}
	if q.Has("max_attempts") && opts.MaxAttempts == 0 {
		opts.MaxAttempts = -1 // explicit 0: never, whatever the admin stored
	}
	if v, ok := q.Query["dead_letter"]; ok {
		if err := checkURLName("dead_letter", v); err != nil {
			return nil, err
		}
		opts.DeadLetter = v
	}
	if opts.Ordered, err = q.Bool(prefix, "ordered"); err != nil {
		return nil, err
	}
	c, release, err := o.client(q)
	if err != nil {
		return nil, err
	}
	s, err := openSubscription(ctx, c, topic, name, opts)
	if err != nil {
		release()
		return nil, coded(err)
	}
	s.release = release
	return s, nil
}

// OpenAdmin opens redis://HOST/DB (connection parameters only).
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	q, err := parseURL(u, nil)
	if err != nil {
		return nil, err
	}
	c, release, err := o.client(q)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		release()
		return nil, coded(fmt.Errorf("redis: %s: %w", q.redacted, err))
	}
	a := NewAdmin(c, &AdminOptions{Prefix: q.prefix})
	a.release = release
	return a, nil
}

// query is a parsed URL: the server to reach and the parameters.
type query struct {
	driver.Query
	key      string // identifies the client: everything but the query
	redacted string
	prefix   string
	opts     goredis.Options
}

func urlError(format string, args ...any) error {
	return driver.QueryError(prefix, fmt.Sprintf(format, args...))
}

const urlForm = "want redis://[USER:PASSWORD@]HOST[:PORT][/DB]?topic=T[&subscription=S]"

func parseURL(u *url.URL, allowed []string) (query, error) {
	switch {
	case u == nil:
		return query{}, urlError("nil URL")
	case u.Scheme != Scheme && u.Scheme != SchemeTLS:
		return query{}, urlError("scheme %q is not redis or rediss", u.Scheme)
	case u.Opaque != "":
		return query{}, urlError(urlForm)
	case u.Host == "":
		return query{}, urlError("missing host: " + urlForm)
	case u.Fragment != "":
		return query{}, urlError("Redis URLs take no fragment")
	}
	dq, err := driver.ParseQuery(prefix, u, append(slices.Clone(allowed), connParams...)...)
	if err != nil {
		return query{}, err
	}
	q := query{Query: dq, prefix: DefaultPrefix}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return query{}, urlError("path %q is not a database number: %s", u.Path, urlForm)
		}
		db = n
	}
	if v, ok := dq["prefix"]; ok {
		if err := checkURLName("prefix", v); err != nil {
			return query{}, err
		}
		q.prefix = v
	}
	dial, err := dq.Duration(prefix, "dial_timeout")
	if err != nil {
		return query{}, err
	}
	if dial == 0 {
		dial = defaultDialTimeout
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(u.Hostname(), "[]"), "6379")
	}
	q.opts = goredis.Options{Addr: host, DB: db, DialTimeout: dial}
	if u.User != nil {
		q.opts.Username = u.User.Username()
		q.opts.Password, _ = u.User.Password()
	}
	d := *u
	d.RawQuery, d.ForceQuery, d.Fragment, d.RawFragment = "", false, "", ""
	q.key = d.String() + "#" + dial.String()
	if u.User != nil {
		d.User = url.User("xxxxx")
		if _, ok := u.User.Password(); ok {
			d.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q.redacted = d.String()
	return q, nil
}

func (q query) name(k string) (string, error) {
	v, ok := q.Query[k]
	if !ok || v == "" {
		return "", urlError("missing parameter %q: %s", k, urlForm)
	}
	return v, checkURLName(k, v)
}

// checkName accepts names of topics, subscriptions and prefixes: 1 to 200
// bytes of UTF-8 without ':' (the key separator), '{', '}' or control
// characters.
func checkName(what, v string) error {
	if msg := nameProblem(what, v); msg != "" {
		return optionError(msg)
	}
	return nil
}

// checkURLName is checkName for a name from a URL: its error wraps
// driver.ErrInvalidURL.
func checkURLName(what, v string) error {
	if msg := nameProblem(what, v); msg != "" {
		return urlError("%s", msg)
	}
	return nil
}

func nameProblem(what, v string) string {
	if v == "" || len(v) > maxNameLen || !utf8.ValidString(v) {
		return what + " must be 1 to 200 bytes of UTF-8"
	}
	for _, r := range v {
		if r == ':' || r == '{' || r == '}' || unicode.IsControl(r) {
			return what + " " + strconv.Quote(v) + " must not contain ':', '{', '}' or control characters"
		}
	}
	return ""
}

// client returns the shared client of q's server, and the func that lets
// go of it.
func (o *URLOpener) client(q query) (*goredis.Client, func(), error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if sc, ok := o.clients[q.key]; ok {
		sc.refs++
		return sc.c, o.releaser(q.key, sc), nil
	}
	opts := q.opts
	if strings.HasPrefix(q.key, SchemeTLS+":") {
		if o.TLSConfig != nil {
			opts.TLSConfig = o.TLSConfig.Clone()
		} else {
			host, _, _ := net.SplitHostPort(opts.Addr)
			opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	sc := &sharedClient{c: goredis.NewClient(&opts), refs: 1}
	if o.clients == nil {
		o.clients = make(map[string]*sharedClient)
	}
	o.clients[q.key] = sc
	return sc.c, o.releaser(q.key, sc), nil
}

func (o *URLOpener) releaser(key string, sc *sharedClient) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			sc.refs--
			last := sc.refs == 0
			if last && o.clients[key] == sc {
				delete(o.clients, key)
			}
			o.mu.Unlock()
			if last {
				_ = sc.c.Close()
			}
		})
	}
}
