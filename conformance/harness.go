package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// Harness tells the suite how to reach one backend. Only Provision and
// Lease are needed; the zero value of every other field is a sensible
// default.
type Harness struct {
	// Name names the backend in reports, for example "rabbitmq".
	Name string
	// Mux opens the URLs Provision returns; nil means mq.DefaultURLMux().
	Mux *mq.URLMux
	// Provision creates fresh resources for one case and returns their
	// URLs. It is called once per case, with a name no other case uses.
	Provision func(ctx context.Context, spec Spec) (*Resources, error)
	// Lease is the shortest lease (visibility timeout) the backend allows
	// in tests. Every wait of the suite is derived from it; see the package
	// doc. Zero means 1 s.
	Lease time.Duration
	// Granularity is the precision of the backend's delays (for example
	// 1 s); delay assertions allow it. Zero means exact; the larger of this
	// and the backend's Capabilities.Granularity is used.
	Granularity time.Duration
	// Restart, if non-nil, restarts the broker while a case runs (rule 15).
	// When nil, the reconnect case is skipped.
	Restart func(ctx context.Context) error
	// Cut, if non-nil, cuts the network between the driver and its
	// server: every open connection is reset at once (not closed
	// orderly) and new ones are refused for d. It returns once the cut
	// began, without waiting for d. faultproxy.Proxy.CutContext is one:
	// point the URLs Provision returns at the proxy. When nil, the cases
	// of rule 15 that cut the wire are skipped.
	Cut func(ctx context.Context, d time.Duration) error
	// MaxBody is the largest body the round-trip case sends. Zero means
	// the backend's Capabilities.MaxBodySize, capped at 1 MiB.
	MaxBody int
	// Wrap, if non-nil, runs each case for Run: in the case's subtest, Run
	// calls Wrap(t, run), and Wrap must call run once, with t or a
	// *testing.T of its own. synctest.Test is one: it runs the case, and
	// Provision, in a bubble of fake time, so that its leases, delays and
	// context deadlines pass as fast as the goroutines get idle (see the
	// package doc). Check, which has no *testing.T, ignores Wrap.
	Wrap func(t *testing.T, run func(t *testing.T))
	// Skip names cases this harness cannot run, each with the reason, for
	// limits of a test server rather than of the backend (for example a
	// fake that crashes on replay). The reason is reported with the skip.
	// A name that is not a case is an error, so a renamed case is noticed.
	Skip map[string]string
}

// Spec says what one case needs provisioned.
type Spec struct {
	// Name is unique to the case run; use it to name topics and
	// subscriptions (it holds only a-z, 0-9 and '-', at most 60 bytes).
	Name string
	// Subscriptions is how many subscriptions of the topic to create (at
	// least 1), each existing before Provision returns.
	Subscriptions int
	// Lease is the lease (visibility timeout) of the subscriptions.
	Lease time.Duration
	// MaxAttempts is the number of deliveries after which a message is
	// dead-lettered; 0 means never.
	MaxAttempts int
	// Ordered asks for per-key ordering.
	Ordered bool
	// DedupWindow asks for producer-side deduplication of DedupID on the
	// topic, where the backend can; 0 means none.
	DedupWindow time.Duration
	// Retention keeps acked messages for Seek; 0 means none.
	Retention time.Duration
	// DeadLetter asks for a dead-letter destination, readable through
	// Resources.DeadLetterURL.
	DeadLetter bool
	// SubscriptionName, when not empty, is the name the first
	// subscription must have, in the backend's own namespace (the queue,
	// consumer group or subscription name), instead of one derived from
	// Name. The suite gives subscriptions of two topics the same name with
	// it, to check that they stay apart (rule 9). Provision may fail with
	// AlreadyExists or FailedPrecondition where the backend's names are
	// global and the name is taken.
	SubscriptionName string
}

// Resources are the URLs of what Provision created.
type Resources struct {
	// TopicURL opens a Producer of the topic.
	TopicURL string
	// SubscriptionURLs open the Spec.Subscriptions subscriptions of the
	// topic; each must exist already, so that it gets every message sent
	// from now on.
	SubscriptionURLs []string
	// DeadLetterURL opens a subscription that reads the dead-letter
	// destination, when Spec.DeadLetter asked for one.
	DeadLetterURL string
	// Cleanup, if non-nil, deletes the resources. The suite calls it after
	// the case closed everything it opened.
	Cleanup func(ctx context.Context) error
}

// Durations every case derives its waits from.
type timing struct {
	lease    time.Duration // L: the subscription lease of most cases
	gran     time.Duration // precision of delays
	patience time.Duration // how long to wait for something that must happen
	quiet    time.Duration // how long to watch for something that must not happen
	shutdown time.Duration // budget for shutting down what a case opened
	cut      time.Duration // how long a network cut lasts
}

func newTiming(h *Harness) timing {
	l := h.Lease
	if l <= 0 {
		l = time.Second
	}
	return timing{
		lease:    l,
		gran:     max(h.Granularity, 0),
		patience: 5*l + 2*time.Second,
		quiet:    2*l + max(h.Granularity, 0),
		shutdown: 5*l + 10*time.Second,
		cut:      max(2*l, 500*time.Millisecond),
	}
}
