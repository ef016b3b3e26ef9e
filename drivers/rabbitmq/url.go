package rabbitmq

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// The URL schemes the driver registers with mq.
const (
	Scheme    = "amqp"
	SchemeTLS = "amqps"
)

func init() { mq.RegisterSchemes(new(URLOpener), Scheme, SchemeTLS) }

// URLOpener opens amqp:// and amqps:// URLs (see the package doc). Its zero
// value is what the driver registers with mq's default mux; register one
// with settings of your own on your own mq.URLMux.
type URLOpener struct {
	// TLSConfig is used for amqps URLs; nil means the system roots and
	// the URL's host name.
	TLSConfig *tls.Config
}

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

// Query parameters by kind of URL. Connection parameters are allowed on
// every URL.
var (
	connParams  = []string{"dial_timeout", "heartbeat"}
	topicParams = []string{"max_body", "max_in_flight", "topic", "unroutable"}
	subParams   = []string{"dead_letter", "idle_cancel", "max_attempts", "max_body", "max_in_flight", "ordered", "prefetch", "subscription", "topic", "visibility"}
)

// Defaults.
const (
	DefaultMaxInFlight = 500
	DefaultPrefetch    = 256
	DefaultMaxBodySize = 16 << 20
	DefaultLease       = 30 * time.Second
	DefaultIdleCancel  = 250 * time.Millisecond
	defaultHeartbeat   = 10 * time.Second
	defaultDialTimeout = 30 * time.Second
)

// endpoint is what to dial: a URL without query, and what must not leak.
type endpoint struct {
	dialURL     string // scheme://user:password@host:port/vhost
	redacted    string // dialURL without the password
	password    string
	heartbeat   time.Duration
	dialTimeout time.Duration
	tls         *tls.Config
}

// OpenTopic opens amqp://HOST/VHOST?topic=EXCHANGE.
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	ep, q, err := o.parse(u, topicParams)
	if err != nil {
		return nil, err
	}
	name, err := q.name("topic", true)
	if err != nil {
		return nil, err
	}
	opts, err := q.topicOptions()
	if err != nil {
		return nil, err
	}
	l, err := dialLink(ctx, ep, "topic "+name)
	if err != nil {
		return nil, coded(err)
	}
	t, err := newTopic(l, name, opts)
	if err != nil {
		l.close()
		return nil, coded(err)
	}
	return t, nil
}

// OpenSubscription opens
// amqp://HOST/VHOST?topic=EXCHANGE&subscription=QUEUE&... .
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	ep, q, err := o.parse(u, subParams)
	if err != nil {
		return nil, err
	}
	name, err := q.name("subscription", true)
	if err != nil {
		return nil, err
	}
	opts, err := q.subscriptionOptions()
	if err != nil {
		return nil, err
	}
	l, err := dialLink(ctx, ep, "subscription "+name)
	if err != nil {
		return nil, coded(err)
	}
	s, err := newSubscription(l, name, opts)
	if err != nil {
		l.close()
		return nil, coded(err)
	}
	return s, nil
}

// OpenAdmin opens amqp://HOST/VHOST (connection parameters only).
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	ep, _, err := o.parse(u, nil)
	if err != nil {
		return nil, err
	}
	l, err := dialLink(ctx, ep, "admin")
	if err != nil {
		return nil, coded(err)
	}
	return newAdmin(l), nil
}

// coded gives an error from opening a handle its code: mq classifies open
// errors by driver.Error codes only, as no handle exists yet to ask.
func coded(err error) error { return classifier.Coded(err, prefix) }

const prefix = "rabbitmq"

func urlError(format string, args ...any) error {
	return driver.QueryError(prefix, fmt.Sprintf(format, args...))
}

// query is the URL's query, parsed by driver.ParseQuery, with the
// driver's own getters (names, options).
type query struct{ driver.Query }

// parse checks the URL, splits off the query and returns the endpoint and
// the parameters (each once, each in allowed or connParams).
func (o *URLOpener) parse(u *url.URL, allowed []string) (*endpoint, query, error) {
	switch {
	case u == nil:
		return nil, query{}, urlError("nil URL")
	case u.Scheme != Scheme && u.Scheme != SchemeTLS:
		return nil, query{}, urlError("scheme %q is not amqp or amqps", u.Scheme)
	case u.Opaque != "":
		return nil, query{}, urlError("want amqp://[USER:PASSWORD@]HOST[:PORT]/[VHOST]?...")
	case u.Host == "":
		return nil, query{}, urlError("missing host: want amqp://[USER:PASSWORD@]HOST[:PORT]/[VHOST]?...")
	case u.Fragment != "":
		return nil, query{}, urlError("AMQP URLs take no fragment")
	}
	if p := strings.TrimPrefix(u.Path, "/"); strings.Contains(p, "/") {
		return nil, query{}, urlError("path %q must be a single vhost segment (escape a / in a vhost name as %%2F)", u.Path)
	}
	dq, err := driver.ParseQuery(prefix, u, append(slices.Clone(allowed), connParams...)...)
	if err != nil {
		return nil, query{}, err
	}
	q := query{dq}
	ep := &endpoint{tls: o.TLSConfig, heartbeat: defaultHeartbeat, dialTimeout: defaultDialTimeout}
	if q.Has("heartbeat") {
		if ep.heartbeat, err = q.Duration(prefix, "heartbeat"); err != nil || ep.heartbeat > 65535*time.Second || ep.heartbeat%time.Second != 0 {
			return nil, query{}, q.Want(prefix, "heartbeat", "a whole number of seconds up to 65535s")
		}
	}
	if q.Has("dial_timeout") {
		if ep.dialTimeout, err = q.DurationIn(prefix, "dial_timeout", 1, math.MaxInt64); err != nil {
			return nil, query{}, err
		}
	}
	d := *u
	d.RawQuery, d.ForceQuery, d.Fragment, d.RawFragment = "", false, "", ""
	ep.dialURL = d.String()
	ep.redacted = d.Redacted()
	if pw, ok := u.User.Password(); ok {
		ep.password = pw
	}
	return ep, q, nil
}

// name returns the resource name in parameter k.
func (q query) name(k string, required bool) (string, error) {
	v, ok := q.Query[k]
	switch {
	case !ok && required:
		return "", urlError("missing parameter %q", k)
	case !ok:
		return "", nil
	case v == "" || len(v) > 255 || !utf8.ValidString(v):
		return "", q.Bad(prefix, k, "a name of 1 to 255 bytes of UTF-8")
	}
	return v, nil
}

// maxBody returns max_body as an Options.MaxBodySize: 0 (default) when
// absent, -1 (no limit) for 0.
func (q query) maxBody() (int, error) {
	n, err := q.IntIn(prefix, "max_body", 0, 1<<31-1)
	if err != nil || n > 0 {
		return n, err
	}
	if q.Has("max_body") {
		return -1, nil
	}
	return 0, nil
}

func (q query) topicOptions() (*TopicOptions, error) {
	var o TopicOptions
	var err error
	if o.MaxInFlight, err = q.IntIn(prefix, "max_in_flight", 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxBodySize, err = q.maxBody(); err != nil {
		return nil, err
	}
	v, err := q.OneOf(prefix, "unroutable", "error", "drop")
	if err != nil {
		return nil, err
	}
	o.DropUnroutable = v == "drop"
	return &o, nil
}

func (q query) subscriptionOptions() (*SubscriptionOptions, error) {
	var o SubscriptionOptions
	var err error
	if o.Topic, err = q.name("topic", false); err != nil {
		return nil, err
	}
	if o.DeadLetterTopic, err = q.name("dead_letter", false); err != nil {
		return nil, err
	}
	if o.Lease, err = q.DurationIn(prefix, "visibility", 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if o.MaxAttempts, err = q.IntIn(prefix, "max_attempts", 0, 1<<31-1); err != nil {
		return nil, err
	}
	if o.Ordered, err = q.Bool(prefix, "ordered"); err != nil {
		return nil, err
	}
	if o.Prefetch, err = q.IntIn(prefix, "prefetch", 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxInFlight, err = q.IntIn(prefix, "max_in_flight", 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxBodySize, err = q.maxBody(); err != nil {
		return nil, err
	}
	if o.IdleCancel, err = q.Duration(prefix, "idle_cancel"); err != nil {
		return nil, err
	}
	if q.Has("idle_cancel") && o.IdleCancel == 0 {
		o.IdleCancel = -1 // 0 in a URL turns it off
	}
	return &o, nil
}
