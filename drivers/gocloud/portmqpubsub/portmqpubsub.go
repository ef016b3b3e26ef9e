package portmqpubsub

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/batcher"

	"github.com/portmq/portmq/mq"
)

// Prefix starts every Go CDK scheme this package registers: the Go CDK URL
// portmq+SCHEME://REST opens the portmq URL SCHEME://REST.
const Prefix = "portmq+"

// Schemes are the portmq schemes registered as portmq+SCHEME on the Go
// CDK's default mux in init: those of memdriver and of the drivers in
// portmq's drivers directory. A scheme whose portmq driver is not imported
// fails at open with an error naming the package to import.
var Schemes = []string{"amqp", "amqps", "gcppubsub", "kafka", "mem", "sns", "sqs"}

// closeTimeout bounds how long Close waits for portmq to shut down.
const closeTimeout = 30 * time.Second

func init() {
	o := new(URLOpener)
	for _, s := range Schemes {
		Register(pubsub.DefaultURLMux(), s, o)
	}
}

// Register registers o for topics and subscriptions under portmq+scheme
// on mux, for portmq schemes not in Schemes (a third-party driver's).
// Like the Go CDK's own registration, it panics if the scheme is taken.
func Register(mux *pubsub.URLMux, scheme string, o *URLOpener) {
	s := Prefix + strings.ToLower(scheme)
	mux.RegisterTopic(s, o)
	mux.RegisterSubscription(s, o)
}

// URLOpener opens portmq+SCHEME URLs: it strips the prefix and opens the
// rest with portmq (mq.OpenProducer for topics, mq.OpenSubscription for
// subscriptions), so every query parameter is the portmq driver's; see the
// package doc of the portmq driver for SCHEME.
type URLOpener struct {
	// Mux opens the portmq URLs; nil means mq.DefaultURLMux(), where
	// portmq drivers register from init.
	Mux *mq.URLMux
	// TopicOptions and SubscriptionOptions are passed to OpenTopic and
	// OpenSubscription.
	TopicOptions        TopicOptions
	SubscriptionOptions SubscriptionOptions
}

// TopicOptions configures a Go CDK topic over a portmq Producer.
type TopicOptions struct {
	// BatcherOptions adds constraints to the Go CDK's batching of sends,
	// as mempubsub.TopicOptions does.
	BatcherOptions batcher.Options
}

// SubscriptionOptions configures a Go CDK subscription over a portmq
// Subscription.
type SubscriptionOptions struct {
	// ReceiveBatcherOptions and AckBatcherOptions add constraints to the
	// Go CDK's batching of receives and of acks, as
	// mempubsub.SubscriptionOptions does.
	ReceiveBatcherOptions batcher.Options
	AckBatcherOptions     batcher.Options
}

// OpenTopic returns a Go CDK topic that sends with p. The topic takes p
// over: Topic.Shutdown shuts p down.
func OpenTopic(p *mq.Producer, opts *TopicOptions) *pubsub.Topic {
	var o TopicOptions
	if opts != nil {
		o = *opts
	}
	return pubsub.NewTopic(&topic{p: p}, &o.BatcherOptions)
}

// OpenSubscription returns a Go CDK subscription that receives from s.
// The subscription takes s over: Subscription.Shutdown shuts s down.
func OpenSubscription(s *mq.Subscription, opts *SubscriptionOptions) *pubsub.Subscription {
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	return pubsub.NewSubscription(&subscription{s: s}, &o.ReceiveBatcherOptions, &o.AckBatcherOptions)
}

// OpenTopicURL opens the portmq producer of u without its prefix.
func (o *URLOpener) OpenTopicURL(ctx context.Context, u *url.URL) (*pubsub.Topic, error) {
	raw, err := portmqURL(u)
	if err != nil {
		return nil, err
	}
	p, err := o.mux().OpenProducer(ctx, raw)
	if err != nil {
		return nil, err
	}
	return OpenTopic(p, &o.TopicOptions), nil
}

// OpenSubscriptionURL opens the portmq subscription of u without its
// prefix.
func (o *URLOpener) OpenSubscriptionURL(ctx context.Context, u *url.URL) (*pubsub.Subscription, error) {
	raw, err := portmqURL(u)
	if err != nil {
		return nil, err
	}
	s, err := o.mux().OpenSubscription(ctx, raw)
	if err != nil {
		return nil, err
	}
	return OpenSubscription(s, &o.SubscriptionOptions), nil
}

func (o *URLOpener) mux() *mq.URLMux {
	if o.Mux != nil {
		return o.Mux
	}
	return mq.DefaultURLMux()
}

// portmqURL returns the portmq URL of the Go CDK URL u: u without the
// portmq+ prefix of its scheme.
func portmqURL(u *url.URL) (string, error) {
	if u == nil {
		return "", fmt.Errorf("portmqpubsub: nil URL")
	}
	inner, ok := strings.CutPrefix(u.Scheme, Prefix)
	switch {
	case !ok || inner == "":
		return "", fmt.Errorf("portmqpubsub: URL %s: scheme %s does not start with %s and name a portmq scheme", strconv.Quote(u.Redacted()), strconv.Quote(u.Scheme), Prefix)
	case strings.HasPrefix(inner, "gocloud+"):
		// gocloud+ schemes open Go CDK drivers: use their own URL instead.
		return "", fmt.Errorf("portmqpubsub: URL %s: portmq's gocloud+ schemes run Go CDK drivers; open %s with the Go CDK directly", strconv.Quote(u.Redacted()), strconv.Quote(strings.TrimPrefix(inner, "gocloud+")+"://..."))
	}
	c := *u
	c.Scheme = inner
	return c.String(), nil
}
