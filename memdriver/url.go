package memdriver

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Scheme is the URL scheme memdriver registers with mq.
const Scheme = "mem"

func init() { mq.Register(Scheme, Default().Opener()) }

// Opener returns a driver.Opener (also a driver.AdminOpener) that opens
// topics, subscriptions and admins of e from mem:// URLs; see the package
// doc for the URL syntax. Register it on your own mq.URLMux to use an
// engine other than Default.
func (e *Engine) Opener() driver.Opener { return &opener{e: e} }

type opener struct{ e *Engine }

var (
	topicParams = []string{"dedup_window", "emulate", "max_body"}
	subParams   = []string{"dead_letter", "emulate", "max_attempts", "max_body", "ordered", "retention", "visibility"}
)

// OpenTopic opens mem://TOPIC?dedup_window=&max_body=&emulate=.
func (o *opener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	topic, sub, err := parseResource(u)
	if err != nil {
		return nil, err
	}
	if sub != "" {
		return nil, urlError("a producer URL names a topic only (mem://TOPIC), not a subscription path")
	}
	q, err := parseQuery(u, topicParams)
	if err != nil {
		return nil, err
	}
	var cfg driver.TopicConfig
	if cfg.DedupWindow, err = q.duration("dedup_window"); err != nil {
		return nil, err
	}
	maxBody, err := q.maxBody()
	if err != nil {
		return nil, err
	}
	emu, err := q.emulate()
	if err != nil {
		return nil, err
	}
	// Only delay concerns a producer; the other flags are accepted so that
	// producer and subscription URLs can share a query.
	return o.e.openTopic(topic, &cfg, emu&EmulateDelay, maxBody)
}

// OpenSubscription opens mem://TOPIC/SUBSCRIPTION?visibility=&... .
func (o *opener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	topic, sub, err := parseResource(u)
	if err != nil {
		return nil, err
	}
	if sub == "" {
		return nil, urlError("a subscription URL needs a subscription: mem://TOPIC/SUBSCRIPTION")
	}
	q, err := parseQuery(u, subParams)
	if err != nil {
		return nil, err
	}
	var cfg driver.SubscriptionConfig
	if cfg.Lease, err = q.duration("visibility"); err != nil {
		return nil, err
	}
	if cfg.Retention, err = q.duration("retention"); err != nil {
		return nil, err
	}
	if cfg.MaxAttempts, err = q.nonNegInt("max_attempts"); err != nil {
		return nil, err
	}
	if cfg.Ordered, err = q.bool("ordered"); err != nil {
		return nil, err
	}
	if v, ok := q["dead_letter"]; ok {
		if !validName(v) {
			return nil, urlError("parameter \"dead_letter\": topic name " + strconv.Quote(v) + " must be 1-255 bytes of A-Z a-z 0-9 . _ -")
		}
		cfg.DeadLetterTopic = v
	}
	var opts SubscriptionOptions
	if opts.MaxBodySize, err = q.maxBody(); err != nil {
		return nil, err
	}
	if opts.Emulate, err = q.emulate(); err != nil {
		return nil, err
	}
	return o.e.openSubscription(topic, sub, &cfg, &opts)
}

// OpenAdmin opens mem:// (any host and path are ignored; no parameters).
func (o *opener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	if u.User != nil {
		return nil, urlError("mem URLs take no user info")
	}
	if _, err := parseQuery(u, nil); err != nil {
		return nil, err
	}
	return o.e.Admin(), nil
}

func urlError(msg string) error {
	return fmt.Errorf("memdriver: %w: %s", driver.ErrInvalidURL, msg)
}

// parseResource returns the topic (host) and subscription (path) a URL
// names; the subscription is "" for no path.
func parseResource(u *url.URL) (topic, sub string, err error) {
	switch {
	case u == nil:
		return "", "", urlError("nil URL")
	case u.Opaque != "":
		return "", "", urlError("want mem://TOPIC or mem://TOPIC/SUBSCRIPTION")
	case u.User != nil:
		return "", "", urlError("mem URLs take no user info")
	case u.Fragment != "":
		return "", "", urlError("mem URLs take no fragment")
	case u.Host == "":
		return "", "", urlError("missing topic: want mem://TOPIC or mem://TOPIC/SUBSCRIPTION")
	}
	if !validName(u.Host) {
		return "", "", urlError("topic name " + strconv.Quote(u.Host) + " must be 1-255 bytes of A-Z a-z 0-9 . _ -")
	}
	p := strings.TrimPrefix(u.Path, "/")
	if p == "" {
		return u.Host, "", nil
	}
	if !validName(p) {
		return "", "", urlError("subscription name " + strconv.Quote(p) + " must be 1-255 bytes of A-Z a-z 0-9 . _ - (one path segment)")
	}
	return u.Host, p, nil
}

type query map[string]string

// parseQuery returns the query parameters, each given once and all in
// allowed.
func parseQuery(u *url.URL, allowed []string) (query, error) {
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, urlError("malformed query")
	}
	q := make(query, len(vals))
	for k, v := range vals {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			hint := "none"
			if len(allowed) > 0 {
				hint = strings.Join(allowed, ", ")
			}
			return nil, urlError("unknown parameter " + strconv.Quote(k) + " (allowed: " + hint + ")")
		}
		if len(v) != 1 {
			return nil, urlError("parameter " + strconv.Quote(k) + " given more than once")
		}
		q[k] = v[0]
	}
	return q, nil
}

func badParam(k, v, want string) error {
	return urlError("parameter " + strconv.Quote(k) + ": " + strconv.Quote(v) + " is not " + want)
}

func (q query) duration(k string) (time.Duration, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, badParam(k, v, "a non-negative duration such as 30s or 5m")
	}
	return d, nil
}

func (q query) nonNegInt(k string) (int, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badParam(k, v, "a non-negative integer")
	}
	return n, nil
}

func (q query) bool(k string) (bool, error) {
	v, ok := q[k]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badParam(k, v, "a boolean (true or false)")
	}
	return b, nil
}

// maxBody returns the SubscriptionOptions.MaxBodySize encoding of
// max_body: 0 (default) when absent, -1 (no limit) for 0.
func (q query) maxBody() (int, error) {
	if _, ok := q["max_body"]; !ok {
		return 0, nil
	}
	n, err := q.nonNegInt("max_body")
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

func (q query) emulate() (Emulate, error) {
	v, ok := q["emulate"]
	if !ok {
		return 0, nil
	}
	e, ok := parseEmulate(v)
	if !ok {
		return 0, badParam("emulate", v, "a comma-separated list of lease, nack_delay, delay, dead_letter, or all")
	}
	return e, nil
}
