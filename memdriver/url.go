package memdriver

import (
	"context"
	"net/url"
	"strconv"
	"strings"

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
	q, err := driver.ParseQuery(pfx, u, topicParams...)
	if err != nil {
		return nil, err
	}
	var cfg driver.TopicConfig
	if cfg.DedupWindow, err = q.Duration(pfx, "dedup_window"); err != nil {
		return nil, err
	}
	maxBody, err := maxBody(q)
	if err != nil {
		return nil, err
	}
	emu, err := emulate(q)
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
	q, err := driver.ParseQuery(pfx, u, subParams...)
	if err != nil {
		return nil, err
	}
	var cfg driver.SubscriptionConfig
	if cfg.Lease, err = q.Duration(pfx, "visibility"); err != nil {
		return nil, err
	}
	if cfg.Retention, err = q.Duration(pfx, "retention"); err != nil {
		return nil, err
	}
	if cfg.MaxAttempts, err = q.Int(pfx, "max_attempts"); err != nil {
		return nil, err
	}
	if cfg.Ordered, err = q.Bool(pfx, "ordered"); err != nil {
		return nil, err
	}
	if v, ok := q["dead_letter"]; ok {
		if !validName(v) {
			return nil, urlError("parameter \"dead_letter\": topic name " + strconv.Quote(v) + " must be 1-255 bytes of A-Z a-z 0-9 . _ -")
		}
		cfg.DeadLetterTopic = v
	}
	var opts SubscriptionOptions
	if opts.MaxBodySize, err = maxBody(q); err != nil {
		return nil, err
	}
	if opts.Emulate, err = emulate(q); err != nil {
		return nil, err
	}
	return o.e.openSubscription(topic, sub, &cfg, &opts)
}

// OpenAdmin opens mem:// (any host and path are ignored; no parameters).
func (o *opener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	if u.User != nil {
		return nil, urlError("mem URLs take no user info")
	}
	if _, err := driver.ParseQuery(pfx, u); err != nil {
		return nil, err
	}
	return o.e.Admin(), nil
}

func urlError(msg string) error { return driver.QueryError(pfx, msg) }

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

const pfx = "memdriver"

type query = driver.Query

// maxBody returns the SubscriptionOptions.MaxBodySize encoding of
// max_body: 0 (default) when absent, -1 (no limit) for 0.
func maxBody(q query) (int, error) {
	if _, ok := q["max_body"]; !ok {
		return 0, nil
	}
	n, err := q.Int(pfx, "max_body")
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

func emulate(q query) (Emulate, error) {
	v, ok := q["emulate"]
	if !ok {
		return 0, nil
	}
	e, ok := parseEmulate(v)
	if !ok {
		return 0, q.Bad(pfx, "emulate", "a comma-separated list of lease, nack_delay, delay, dead_letter, or all")
	}
	return e, nil
}
