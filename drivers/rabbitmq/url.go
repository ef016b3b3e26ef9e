package rabbitmq

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"slices"
	"strconv"
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

func init() {
	o := new(URLOpener)
	mq.Register(Scheme, o)
	mq.Register(SchemeTLS, o)
}

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
func coded(err error) error {
	if driver.CodeOf(err) != driver.Unknown {
		return err
	}
	if c := classify(err); c != driver.Unknown && c != driver.Canceled && c != driver.DeadlineExceeded {
		return &driver.Error{Code: c, Msg: "rabbitmq", Err: err}
	}
	return err
}

func urlError(format string, args ...any) error {
	return fmt.Errorf("rabbitmq: %w: %s", driver.ErrInvalidURL, fmt.Sprintf(format, args...))
}

type query map[string]string

// parse checks the URL, splits off the query and returns the endpoint and
// the parameters (each once, each in allowed or connParams).
func (o *URLOpener) parse(u *url.URL, allowed []string) (*endpoint, query, error) {
	switch {
	case u == nil:
		return nil, nil, urlError("nil URL")
	case u.Scheme != Scheme && u.Scheme != SchemeTLS:
		return nil, nil, urlError("scheme %q is not amqp or amqps", u.Scheme)
	case u.Opaque != "":
		return nil, nil, urlError("want amqp://[USER:PASSWORD@]HOST[:PORT]/[VHOST]?...")
	case u.Host == "":
		return nil, nil, urlError("missing host: want amqp://[USER:PASSWORD@]HOST[:PORT]/[VHOST]?...")
	case u.Fragment != "":
		return nil, nil, urlError("AMQP URLs take no fragment")
	}
	if p := strings.TrimPrefix(u.Path, "/"); strings.Contains(p, "/") {
		return nil, nil, urlError("path %q must be a single vhost segment (escape a / in a vhost name as %%2F)", u.Path)
	}
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, urlError("malformed query")
	}
	q := make(query, len(vals))
	for k, v := range vals {
		if !slices.Contains(allowed, k) && !slices.Contains(connParams, k) {
			all := append(slices.Clone(allowed), connParams...)
			slices.Sort(all)
			return nil, nil, urlError("unknown parameter %q (allowed: %s)", k, strings.Join(all, ", "))
		}
		if len(v) != 1 {
			return nil, nil, urlError("parameter %q given more than once", k)
		}
		q[k] = v[0]
	}
	ep := &endpoint{heartbeat: defaultHeartbeat, dialTimeout: defaultDialTimeout, tls: o.TLSConfig}
	if ep.heartbeat, err = q.duration("heartbeat", defaultHeartbeat); err != nil {
		return nil, nil, err
	}
	if ep.dialTimeout, err = q.duration("dial_timeout", defaultDialTimeout); err != nil {
		return nil, nil, err
	}
	if ep.heartbeat > 65535*time.Second || ep.heartbeat%time.Second != 0 {
		return nil, nil, urlError("parameter \"heartbeat\": %v is not a whole number of seconds up to 65535s", ep.heartbeat)
	}
	if ep.dialTimeout <= 0 {
		return nil, nil, urlError("parameter \"dial_timeout\" must be positive")
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
	v, ok := q[k]
	switch {
	case !ok && required:
		return "", urlError("missing parameter %q", k)
	case !ok:
		return "", nil
	case v == "" || len(v) > 255 || !utf8.ValidString(v):
		return "", urlError("parameter %q: name %q must be 1 to 255 bytes of UTF-8", k, v)
	}
	return v, nil
}

func badParam(k, v, want string) error {
	return urlError("parameter %q: %q is not %s", k, v, want)
}

// param parses parameter k, or returns def when it is absent; want says
// what a valid value is.
func param[T any](q query, k string, def T, want string, parse func(string) (T, bool)) (T, error) {
	v, ok := q[k]
	if !ok {
		return def, nil
	}
	x, ok := parse(v)
	if !ok {
		return def, badParam(k, v, want)
	}
	return x, nil
}

func (q query) duration(k string, def time.Duration) (time.Duration, error) {
	return param(q, k, def, "a non-negative duration such as 30s or 5m", func(v string) (time.Duration, bool) {
		d, err := time.ParseDuration(v)
		return d, err == nil && d >= 0
	})
}

func (q query) integer(k string, def, lo, hi int) (int, error) {
	return param(q, k, def, fmt.Sprintf("an integer from %d to %d", lo, hi), func(v string) (int, bool) {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= lo && n <= hi
	})
}

func (q query) bool(k string) (bool, error) {
	return param(q, k, false, "a boolean (true or false)", func(v string) (bool, bool) {
		b, err := strconv.ParseBool(v)
		return b, err == nil
	})
}

// maxBody returns max_body as an Options.MaxBodySize: 0 (default) when
// absent, -1 (no limit) for 0.
func (q query) maxBody() (int, error) {
	n, err := q.integer("max_body", 0, 0, 1<<31-1)
	if err != nil || n > 0 {
		return n, err
	}
	if _, ok := q["max_body"]; ok {
		return -1, nil
	}
	return 0, nil
}

func (q query) topicOptions() (*TopicOptions, error) {
	var o TopicOptions
	var err error
	if o.MaxInFlight, err = q.integer("max_in_flight", 0, 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxBodySize, err = q.maxBody(); err != nil {
		return nil, err
	}
	switch v, ok := q["unroutable"]; {
	case !ok || v == "error":
	case v == "drop":
		o.DropUnroutable = true
	default:
		return nil, badParam("unroutable", v, "error or drop")
	}
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
	if o.Lease, err = q.duration("visibility", 0); err != nil {
		return nil, err
	}
	if _, ok := q["visibility"]; ok && o.Lease == 0 {
		return nil, badParam("visibility", q["visibility"], "a positive duration")
	}
	if o.MaxAttempts, err = q.integer("max_attempts", 0, 0, 1<<31-1); err != nil {
		return nil, err
	}
	if o.Ordered, err = q.bool("ordered"); err != nil {
		return nil, err
	}
	if o.Prefetch, err = q.integer("prefetch", 0, 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxInFlight, err = q.integer("max_in_flight", 0, 1, 65535); err != nil {
		return nil, err
	}
	if o.MaxBodySize, err = q.maxBody(); err != nil {
		return nil, err
	}
	if o.IdleCancel, err = q.duration("idle_cancel", 0); err != nil {
		return nil, err
	}
	if _, ok := q["idle_cancel"]; ok && o.IdleCancel == 0 {
		o.IdleCancel = -1 // 0 in a URL turns it off
	}
	return &o, nil
}
