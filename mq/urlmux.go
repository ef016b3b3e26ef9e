package mq

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// URLMux maps URL schemes to drivers. Most programs use the default mux
// through OpenProducer, OpenSubscription and OpenAdmin; drivers add their
// schemes to it from init, so a blank import enables a backend:
//
//	import _ "github.com/portmq/portmq/memdriver"
//
// A mux may carry a clock (SetClock) that the handles it opens use unless
// an option gives them their own.
type URLMux struct {
	mu      sync.RWMutex
	openers map[string]driver.Opener
	clk     clock.Clock
}

// SetClock makes c the clock of every Producer and Subscription m opens
// from now on (and of the Consumers over them), unless WithProducerClock
// or WithSubscriptionClock gives one. Without it (or with nil) a handle
// uses its driver's clock where the driver exposes one (driver.Clocked),
// else clock.Real. The clock governs the leases, delays, backoffs and
// holds portmq keeps itself; deadlines of the contexts passed in stay on
// real time.
func (m *URLMux) SetClock(c clock.Clock) {
	m.mu.Lock()
	m.clk = c
	m.mu.Unlock()
}

func (m *URLMux) defaultClock() clock.Clock {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.clk
}

var defaultMux = new(URLMux)

// DefaultURLMux returns the mux that drivers register with.
func DefaultURLMux() *URLMux { return defaultMux }

// Register makes a driver available under scheme on the default mux. It
// panics if scheme is empty or already registered or o is nil: those are
// programming errors found at init.
func Register(scheme string, o driver.Opener) { defaultMux.Register(scheme, o) }

// RegisterSchemes registers one opener under each of schemes on the
// default mux, for a driver whose URLs have several (a TLS variant, an
// alias), as Register does for one.
func RegisterSchemes(o driver.Opener, schemes ...string) {
	for _, s := range schemes {
		defaultMux.Register(s, o)
	}
}

// Register makes o available under scheme. It panics if scheme is empty or
// already registered or o is nil.
func (m *URLMux) Register(scheme string, o driver.Opener) {
	if scheme == "" || scheme != strings.ToLower(scheme) {
		panic("mq: Register: scheme must be non-empty lower case, got " + scheme)
	}
	if o == nil {
		panic("mq: Register: nil opener for scheme " + scheme)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.openers == nil {
		m.openers = make(map[string]driver.Opener)
	}
	if _, dup := m.openers[scheme]; dup {
		panic("mq: Register called twice for scheme " + scheme)
	}
	m.openers[scheme] = o
}

// Schemes returns the registered schemes, sorted.
func (m *URLMux) Schemes() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.openers))
	for s := range m.openers {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// ValidScheme reports whether scheme is registered.
func (m *URLMux) ValidScheme(scheme string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.openers[scheme]
	return ok
}

// OpenProducer opens a Producer on the default mux.
func OpenProducer(ctx context.Context, rawURL string, opts ...ProducerOption) (*Producer, error) {
	return defaultMux.OpenProducer(ctx, rawURL, opts...)
}

// OpenSubscription opens a Subscription on the default mux.
func OpenSubscription(ctx context.Context, rawURL string, opts ...SubscriptionOption) (*Subscription, error) {
	return defaultMux.OpenSubscription(ctx, rawURL, opts...)
}

// OpenAdmin opens an Admin on the default mux.
func OpenAdmin(ctx context.Context, rawURL string) (*Admin, error) {
	return defaultMux.OpenAdmin(ctx, rawURL)
}

// OpenProducer opens a Producer for the topic the URL names.
func (m *URLMux) OpenProducer(ctx context.Context, rawURL string, opts ...ProducerOption) (*Producer, error) {
	const op = "mq.OpenProducer"
	u, o, err := m.resolve(op, rawURL)
	if err != nil {
		return nil, err
	}
	t, err := o.OpenTopic(ctx, u)
	if err != nil {
		return nil, openError(op, u, err)
	}
	p, err := NewProducer(t, append([]ProducerOption{withProducerNames(u.Scheme, destinationOf(u)), withMuxProducerClock(m.defaultClock())}, opts...)...)
	if err != nil {
		_ = t.Close()
		return nil, err
	}
	return p, nil
}

// OpenSubscription opens a Subscription for the subscription the URL
// names.
func (m *URLMux) OpenSubscription(ctx context.Context, rawURL string, opts ...SubscriptionOption) (*Subscription, error) {
	const op = "mq.OpenSubscription"
	u, o, err := m.resolve(op, rawURL)
	if err != nil {
		return nil, err
	}
	s, err := o.OpenSubscription(ctx, u)
	if err != nil {
		return nil, openError(op, u, err)
	}
	sub, err := NewSubscription(s, append([]SubscriptionOption{withSubscriptionNames(u.Scheme, destinationOf(u)), withMuxSubscriptionClock(m.defaultClock())}, opts...)...)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	return sub, nil
}

// OpenAdmin opens an Admin for the backend the URL names. It returns an
// error matching ErrUnsupported when the driver cannot provision.
func (m *URLMux) OpenAdmin(ctx context.Context, rawURL string) (*Admin, error) {
	const op = "mq.OpenAdmin"
	u, o, err := m.resolve(op, rawURL)
	if err != nil {
		return nil, err
	}
	ao, ok := o.(driver.AdminOpener)
	if !ok {
		return nil, newError(Unsupported, op, "scheme "+u.Scheme+" has no admin interface", nil)
	}
	a, err := ao.OpenAdmin(ctx, u)
	if err != nil {
		return nil, openError(op, u, err)
	}
	return &Admin{d: a}, nil
}

func (m *URLMux) resolve(op, rawURL string) (*url.URL, driver.Opener, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the input, which may hold a password.
		return nil, nil, newError(InvalidArgument, op, "malformed URL "+strconv.Quote(redactRaw(rawURL)), nil)
	}
	if u.Scheme == "" {
		return nil, nil, newError(InvalidArgument, op, "URL "+strconv.Quote(redactURL(u))+" has no scheme (want for example mem://topic)", nil)
	}
	m.mu.RLock()
	o := m.openers[u.Scheme]
	m.mu.RUnlock()
	if o == nil {
		registered := strings.Join(m.Schemes(), ", ")
		if registered == "" {
			registered = "none"
		}
		msg := "no driver for scheme \"" + u.Scheme + "\" in URL " + strconv.Quote(redactURL(u)) + " (registered: " + registered + ")"
		if pkg := driverPackage(u.Scheme); pkg != "" {
			msg += "; is the driver imported? import _ \"" + pkg + "\""
		}
		return nil, nil, newError(NotFound, op, msg, nil)
	}
	return u, o, nil
}

func openError(op string, u *url.URL, err error) error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Code: ctxCode(err, InvalidArgument), Op: op, Msg: "open " + redactURL(u), Err: err}
}

// driverPackage names the portmq package that registers scheme, or "" when
// portmq has none.
func driverPackage(scheme string) string {
	const base = "github.com/portmq/portmq/"
	switch {
	case scheme == "mem":
		return base + "memdriver"
	case scheme == "amqp" || scheme == "amqps":
		return base + "drivers/rabbitmq"
	case scheme == "kafka" || scheme == "sqs" || scheme == "sns" || scheme == "gcppubsub":
		return base + "drivers/" + scheme
	case scheme == "redis" || scheme == "rediss":
		return base + "drivers/redis"
	case scheme == "postgres" || scheme == "postgresql":
		return base + "drivers/postgres"
	case strings.HasPrefix(scheme, "gocloud+"):
		return base + "drivers/gocloud"
	case strings.HasPrefix(scheme, "watermill+"):
		return base + "drivers/watermill"
	}
	return ""
}

// Redact returns rawURL fit for logs and output: the password of its
// userinfo and every secret query value replaced by xxxxx, as in mq's own
// errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redactRaw(rawURL)
	}
	return redactURL(u)
}

// redactURL returns u for error text: the password of its userinfo and
// every secret in its query replaced by xxxxx. A query value is secret when
// its name says so (password, secret, token, credential, key) or when it is
// itself a URL with userinfo.
func redactURL(u *url.URL) string {
	if strings.Contains(u.Path, "@") || strings.Contains(u.Opaque, "@") {
		// A password with an unescaped '/' makes the rest of it look like
		// a path ("amqp://u:1/2@h": host u, port 1, path /2@h): redact
		// as for a URL that did not parse, up to the last '@'.
		c := *u
		c.RawQuery, c.Fragment, c.RawFragment = "", "", ""
		return redactRaw(c.String())
	}
	if u.Fragment != "" || u.RawFragment != "" {
		// No portmq URL has a fragment; an unescaped '#' in a password
		// puts the rest of the password there ("amqp://u:#pw@h").
		c := *u
		c.Fragment, c.RawFragment = "", ""
		u = &c
	}
	if u.RawQuery == "" {
		return u.Redacted()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		c := *u
		c.RawQuery = "xxxxx"
		return c.Redacted()
	}
	changed := false
	for k := range q {
		if strings.Contains(k, "@") {
			// A name with an '@' is a password's tail ("a://?:pw@" puts
			// ":pw@" in the query): nothing of the query is shown.
			c := *u
			c.RawQuery = "xxxxx"
			return c.Redacted()
		}
	}
	for k, vs := range q {
		for i, v := range vs {
			if r := redactValue(k, v); r != v {
				vs[i], changed = r, true
			}
		}
	}
	if !changed {
		return u.Redacted()
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.Redacted()
}

func redactValue(name, v string) string {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "secret", "token", "credential", "key"} {
		if strings.Contains(n, w) && !strings.HasSuffix(n, "key_name") && n != "key" {
			return "xxxxx"
		}
	}
	if strings.Contains(v, "@") {
		if vu, err := url.Parse(v); err == nil && vu.User != nil {
			return vu.Redacted()
		}
		if r := redactRaw(v); r != v {
			return r
		}
		// user:password@host without a scheme.
		return "xxxxx" + v[strings.LastIndex(v, "@"):]
	}
	return v
}

// redactRaw removes the userinfo of a URL that url.Parse rejected. Such a
// URL's password may hold an unescaped '/', '?' or '#' (which is perhaps
// why it did not parse), so everything up to the last '@' goes: an '@'
// later in the URL costs some of the error's detail, never the secret.
func redactRaw(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return s[:i+3] + "xxxxx@" + rest[at+1:]
		}
	}
	return s
}
