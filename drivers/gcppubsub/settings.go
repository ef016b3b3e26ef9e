package gcppubsub

import (
	"context"
	"strconv"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portmq/portmq/mq/driver"
)

// Dead-letter policies take 5 to 100 delivery attempts.
const (
	minPolicyAttempts = 5
	maxPolicyAttempts = 100
)

// labelMaxAttempts is the subscription label that records portmq's max
// attempts when it is below the policy's minimum of 5: the policy then
// holds 5 as a backstop, and mq dead-letters at the label's count.
const labelMaxAttempts = "portmq-max-attempts"

// SubscriptionOptions configure a subscription handle. The zero value (or
// nil) means defaults.
//
// A handle reads its subscription's configuration with GetSubscription.
// Callers without that permission (roles/pubsub.subscriber lacks
// pubsub.subscriptions.get) describe the subscription with AckDeadline,
// MaxAttempts, DeadLetterTopic and Ordered instead; when the configuration
// can be read, the fields that are set must agree with it, else opening
// fails with code FailedPrecondition.
type SubscriptionOptions struct {
	// AckDeadline is the subscription's ack deadline. Default (when the
	// configuration cannot be read) 10 s.
	AckDeadline time.Duration
	// MaxAttempts is portmq's max attempts; non-zero needs a dead-letter
	// policy on the subscription (which makes Pub/Sub count attempts).
	MaxAttempts int
	// DeadLetterTopic is the dead-letter topic, an ID in the
	// subscription's project or a full name.
	DeadLetterTopic string
	// Ordered says the subscription has message ordering enabled.
	Ordered bool
}

// settings are what a handle knows of its subscription.
type settings struct {
	lease       time.Duration
	maxAttempts int
	deadLetter  string // full topic name, "" for none
	ordered     bool
	attempts    bool // delivery_attempt is filled (a dead-letter policy exists)
	nativeDLQ   bool // the policy dead-letters at maxAttempts
}

func (st *settings) caps() driver.Capabilities {
	c := baseCaps()
	if !st.attempts {
		c.Attempts = driver.None
	}
	if !st.nativeDLQ {
		c.DeadLetter = driver.None
	}
	return c
}

// loadSettings reads the subscription's configuration, or takes it from
// opts when the caller may not read it.
func loadSettings(ctx context.Context, client *pubsub.Client, name string, opts *SubscriptionOptions) (settings, error) {
	project, _, _, _ := splitName(name)
	var dlq string
	if opts.DeadLetterTopic != "" {
		var err error
		if dlq, err = resolveName(project, kindTopic, opts.DeadLetterTopic); err != nil {
			return settings{}, err
		}
	}
	if opts.AckDeadline < 0 || opts.AckDeadline > maxAckDeadline {
		return settings{}, invalid("ack deadline %v outside 0 to %v", opts.AckDeadline, maxAckDeadline)
	}
	if opts.MaxAttempts < 0 || opts.MaxAttempts > maxPolicyAttempts {
		return settings{}, invalid("max attempts %d outside 0 to %d: Pub/Sub counts delivery attempts up to %d", opts.MaxAttempts, maxPolicyAttempts, maxPolicyAttempts)
	}
	cfg, err := client.SubscriptionAdminClient.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
	if status.Code(err) == codes.PermissionDenied {
		return settingsFromOptions(name, opts, dlq)
	}
	if err != nil {
		return settings{}, classified(err, "read the configuration of %s", name)
	}
	st := settingsFromConfig(cfg)
	mismatch := func(what string, want, got any) error {
		return newError(driver.FailedPrecondition, "subscription %s has %s %v, the options (or URL) say %v", name, what, got, want)
	}
	switch {
	case opts.AckDeadline > 0 && seconds(opts.AckDeadline) != seconds(st.lease):
		return settings{}, mismatch("ack deadline", opts.AckDeadline, st.lease)
	case opts.MaxAttempts > 0 && opts.MaxAttempts != st.maxAttempts:
		return settings{}, mismatch("max attempts", opts.MaxAttempts, st.maxAttempts)
	case dlq != "" && st.deadLetter != "" && dlq != st.deadLetter:
		return settings{}, mismatch("dead-letter topic", dlq, st.deadLetter)
	case opts.Ordered && !st.ordered:
		return settings{}, mismatch("message ordering", true, false)
	}
	if st.deadLetter == "" {
		// No policy: the topic only serves DeadLetter(reason).
		st.deadLetter = dlq
	}
	return st, nil
}

func settingsFromConfig(cfg *pb.Subscription) settings {
	st := settings{lease: time.Duration(cfg.GetAckDeadlineSeconds()) * time.Second, ordered: cfg.GetEnableMessageOrdering()}
	if st.lease <= 0 {
		st.lease = defaultAckDeadline
	}
	if p := cfg.GetDeadLetterPolicy(); p.GetDeadLetterTopic() != "" {
		st.deadLetter = p.GetDeadLetterTopic()
		st.attempts = true
		st.maxAttempts = int(p.GetMaxDeliveryAttempts())
		if st.maxAttempts == 0 {
			st.maxAttempts = minPolicyAttempts // Pub/Sub's default
		}
		st.nativeDLQ = true
		if n, err := strconv.Atoi(cfg.GetLabels()[labelMaxAttempts]); err == nil && n > 0 && n < st.maxAttempts {
			st.maxAttempts, st.nativeDLQ = n, false
		}
	}
	return st
}

// settingsFromOptions describes a subscription whose configuration the
// caller may not read: a max attempts of 5 to 100 is taken to be the
// policy's own, a lower one a portmq label over a backstop policy.
func settingsFromOptions(name string, opts *SubscriptionOptions, dlq string) (settings, error) {
	st := settings{lease: opts.AckDeadline, ordered: opts.Ordered, deadLetter: dlq}
	if st.lease == 0 {
		st.lease = defaultAckDeadline
	}
	if opts.MaxAttempts > 0 {
		if dlq == "" {
			return settings{}, invalid("cannot read the configuration of %s (permission denied): max attempts needs the dead-letter topic too", name)
		}
		st.maxAttempts, st.attempts = opts.MaxAttempts, true
		st.nativeDLQ = opts.MaxAttempts >= minPolicyAttempts
	}
	return st, nil
}

// Attributes Pub/Sub adds to the messages its dead-letter policy forwards.
const (
	nativeDLQCount        = "CloudPubSubDeadLetterSourceDeliveryCount"
	nativeDLQSubscription = "CloudPubSubDeadLetterSourceSubscription"
	nativeDLQProject      = "CloudPubSubDeadLetterSourceSubscriptionProject"
)

// fromAttributes takes the driver's own attributes out of a received
// message's (whose map it owns) and adds portmq's dead-letter metadata to
// a message Pub/Sub's policy forwarded.
func fromAttributes(attrs map[string]string) (map[string]string, string) {
	if len(attrs) == 0 {
		return nil, ""
	}
	dedup, ok := attrs[attrDedupID]
	if ok {
		delete(attrs, attrDedupID)
	}
	delete(attrs, attrEmpty)
	if n, ok := attrs[nativeDLQCount]; ok && positiveInt(n) {
		if _, has := attrs[driver.AttrDeadLetterReason]; !has {
			attrs[driver.AttrDeadLetterReason] = "max delivery attempts reached (Pub/Sub dead-letter policy)"
			attrs[driver.AttrAttempts] = n
			if sub := attrs[nativeDLQSubscription]; sub != "" {
				attrs[driver.AttrSource] = fullName(attrs[nativeDLQProject], kindSubscription, sub)
			}
		}
	}
	if len(attrs) == 0 {
		return nil, dedup
	}
	return attrs, dedup
}

// positiveInt reports whether s is a decimal integer above 0: a delivery
// count that is anything else was not set by Pub/Sub.
func positiveInt(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0
}
