package gocloud

import (
	"math"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// Prefix starts every portmq scheme this package registers: the portmq URL
// gocloud+SCHEME://REST opens the Go CDK URL SCHEME://REST.
const Prefix = "gocloud+"

// scheme holds what this package knows about one Go CDK scheme.
type scheme struct {
	// topicParams and subParams are the query parameters the Go CDK's own
	// URL opener takes; they are passed through. nil means unknown: every
	// parameter portmq does not use is passed through and the Go CDK
	// validates it.
	topicParams, subParams []string
	// maxBody is the largest body the backend takes; 0 means no limit.
	maxBody int
	// shared: the Go CDK keeps topics for the process and a subscription
	// exists only inside its handle (mempubsub), so the driver shares and
	// keeps them (see the package doc).
	shared bool
	// subNamesTopic: a subscription URL names its topic (mempubsub), which
	// is then the default retry_topic.
	subNamesTopic bool
}

// schemes are the Go CDK schemes registered as gocloud+SCHEME in init. The
// limits are the services' documented defaults.
var schemes = map[string]scheme{
	"mem":         {topicParams: []string{}, subParams: []string{"ackdeadline"}, shared: true, subNamesTopic: true},
	"rabbit":      {topicParams: []string{"key_name"}, subParams: []string{"prefetch_count"}, maxBody: 16 << 20},
	"awssqs":      {maxBody: 256 << 10},
	"awssns":      {maxBody: 256 << 10},
	"gcppubsub":   {maxBody: 10 << 20},
	"gcppubsubv2": {maxBody: 10 << 20},
	"azuresb":     {maxBody: 256 << 10},
	"kafka":       {maxBody: 1 << 20},
	"nats":        {maxBody: 1 << 20},
}

func lookupScheme(s string) scheme {
	if sc, ok := schemes[s]; ok {
		return sc
	}
	return scheme{}
}

// The subscription parameters portmq itself reads (and removes before the
// Go CDK sees the URL).
const (
	paramName        = "name"
	paramVisibility  = "visibility"
	paramMaxAttempts = "max_attempts"
	paramDeadLetter  = "dead_letter"
	paramRetryTopic  = "retry_topic"
)

var subParams = []string{paramDeadLetter, paramMaxAttempts, paramName, paramRetryTopic, paramVisibility}

// subURL is a parsed subscription URL.
type subURL struct {
	cdk         *url.URL // the Go CDK subscription URL
	name        string
	lease       time.Duration
	maxAttempts int
	retry       *url.URL // Go CDK topic URL for retries; nil: none
	deadLetter  *url.URL // Go CDK topic URL for dead letters; nil: none
}

func urlError(msg string) error {
	return driver.QueryError("gocloud", msg)
}

// cdkURL turns a portmq URL gocloud+SCHEME://... (or a Go CDK URL
// SCHEME://... inside a parameter) into the Go CDK URL, keeping the query
// parameters in keep (all when keep is nil) and returning the others.
// It never puts the URL's password in an error.
func cdkURL(u *url.URL, what string, params []string, own []string) (*url.URL, driver.Query, error) {
	switch {
	case u == nil:
		return nil, nil, urlError("nil URL")
	case u.User != nil:
		// No Go CDK pubsub driver takes credentials from the URL: each
		// reads them from its environment (RABBIT_SERVER_URL, AWS and
		// Google default credentials, ...).
		return nil, nil, urlError(what + " " + shown(u) + " has user info; the Go CDK drivers take credentials from their environment, not from URLs")
	case u.Opaque != "":
		return nil, nil, urlError(what + " " + shown(u) + " is not of the form SCHEME://NAME")
	case u.Fragment != "":
		return nil, nil, urlError(what + " " + shown(u) + " has a fragment")
	}
	s := strings.TrimPrefix(u.Scheme, Prefix)
	if s == "" {
		return nil, nil, urlError(what + " " + shown(u) + " names no Go CDK scheme")
	}
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, urlError(what + " " + shown(u) + " has a malformed query")
	}
	pass := url.Values{}
	mine := driver.Query{}
	for k, v := range vals {
		switch {
		case slices.Contains(own, k):
			if len(v) != 1 {
				return nil, nil, urlError("parameter " + strconv.Quote(k) + " given more than once")
			}
			mine[k] = v[0]
		case params == nil || slices.Contains(params, k):
			pass[k] = v
		default:
			allowed := append(slices.Clone(own), params...)
			slices.Sort(allowed)
			hint := strings.Join(allowed, ", ")
			if hint == "" {
				hint = "none"
			}
			return nil, nil, urlError("unknown parameter " + strconv.Quote(k) + " in " + what + " (allowed for scheme " + s + ": " + hint + ")")
		}
	}
	out := &url.URL{Scheme: s, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: pass.Encode()}
	return out, mine, nil
}

// shown is u as error messages show it: without user info, query and
// fragment, any of which may hold a password (the query holds the topic
// URLs of retry_topic and dead_letter).
func shown(u *url.URL) string {
	return strconv.Quote((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String())
}

// parseTopicURL returns the Go CDK topic URL of a producer URL.
func parseTopicURL(u *url.URL) (*url.URL, error) {
	c, _, err := cdkURL(u, "topic URL", lookupScheme(strings.TrimPrefix(u.Scheme, Prefix)).topicParams, nil)
	return c, err
}

// parseSubURL parses a subscription URL.
func parseSubURL(u *url.URL) (*subURL, error) {
	sc := lookupScheme(strings.TrimPrefix(u.Scheme, Prefix))
	c, q, err := cdkURL(u, "subscription URL", sc.subParams, subParams)
	if err != nil {
		return nil, err
	}
	s := &subURL{cdk: c, name: path.Join(c.Host, c.Path)}
	if v := q[paramName]; v != "" {
		s.name = v
	}
	if s.name == "" {
		return nil, urlError("subscription URL names no subscription: want gocloud+SCHEME://NAME")
	}
	if s.lease, err = q.DurationIn("gocloud", paramVisibility, 1, math.MaxInt64); err != nil {
		return nil, err
	}
	if s.maxAttempts, err = q.Int("gocloud", paramMaxAttempts); err != nil {
		return nil, err
	}
	if s.retry, err = topicParam(q, paramRetryTopic); err != nil {
		return nil, err
	}
	if s.retry == nil && sc.subNamesTopic {
		// The subscription URL names its topic: retries go back to it.
		s.retry = &url.URL{Scheme: c.Scheme, Host: c.Host, Path: c.Path, RawPath: c.RawPath}
	}
	if s.deadLetter, err = topicParam(q, paramDeadLetter); err != nil {
		return nil, err
	}
	if s.maxAttempts > 1 && s.retry == nil {
		return nil, urlError("parameter \"max_attempts\" needs \"retry_topic\": the Go CDK does not count deliveries, so portmq counts them by republishing nacked messages there")
	}
	if s.maxAttempts > 0 && s.deadLetter == nil {
		return nil, urlError("parameter \"max_attempts\" needs \"dead_letter\" (a Go CDK topic URL): the Go CDK has no dead-letter destination of its own")
	}
	return s, nil
}

// topicParam parses a parameter whose value is a Go CDK topic URL (the
// gocloud+ prefix is allowed and ignored).
func topicParam(q driver.Query, k string) (*url.URL, error) {
	v, ok := q[k]
	if !ok {
		return nil, nil
	}
	pu, err := url.Parse(v)
	if err != nil || pu.Scheme == "" {
		// Not echoed: a URL that does not parse may still hold a password.
		return nil, urlError("parameter " + strconv.Quote(k) + " is not a Go CDK topic URL such as mem://topic")
	}
	c, _, err := cdkURL(pu, "parameter "+strconv.Quote(k), lookupScheme(strings.TrimPrefix(pu.Scheme, Prefix)).topicParams, nil)
	return c, err
}
