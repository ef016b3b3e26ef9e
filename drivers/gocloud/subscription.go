package gocloud

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/mq/driver"
)

// SubscriptionOptions configures a subscription made with NewSubscription.
// Nil means defaults.
type SubscriptionOptions struct {
	// Name names the subscription: in dead-letter metadata, and in the
	// retried copies of its messages, which other subscriptions of the
	// retry topic drop. Required when RetryTopic is set.
	Name string
	// Lease is the lease mq keeps for each delivery (the Go CDK has none it
	// exposes). Default 30 s. Keep it below the backend's own ack deadline.
	Lease time.Duration
	// MaxAttempts dead-letters a message after that many deliveries; 0
	// means never. Above 1 it needs RetryTopic, and above 0 DeadLetterTopic.
	MaxAttempts int
	// RetryTopic, if set, is where a nacked (or expired) delivery is
	// republished with the next attempt number; see the package doc. The
	// driver takes it over and shuts it down on Close.
	RetryTopic *pubsub.Topic
	// DeadLetterTopic, if set, receives dead letters. The driver takes it
	// over and shuts it down on Close.
	DeadLetterTopic *pubsub.Topic
}

// subscription is a driver.Subscription over a Go CDK subscription.
type subscription struct {
	c    *conns
	u    *url.URL // the Go CDK URL; nil for a subscription given to NewSubscription
	name string
	info driver.SubscriptionInfo
	caps driver.Capabilities

	// Retries and dead letters: by URL (opened on first use), or given.
	retryURL, dlqURL *url.URL
	givenDLQ         *pubsub.Topic

	// parkable: the handle owns its connection (rabbit on the default
	// mux), so it can park when idle; see park.
	parkable bool

	mu          sync.Mutex
	cur         *pubsub.Subscription // nil when parked or failed to reopen
	rel         release
	gen         uint64 // counts reopenings; deliveries of older ones are stale
	broken      bool   // cur failed for good: reopen before use
	active      int    // ReceiveBatch calls in progress
	outstanding int    // deliveries handed out and not yet settled
	idle        *time.Timer
	retry       *topic
	closed      bool
}

// delivery is the AckID.Ref of a delivery.
type delivery struct {
	m       *pubsub.Message
	gen     uint64
	id      string
	attempt int // 1-based, as counted by the retry metadata
	settled atomic.Bool
}

// NewSubscription returns a driver.Subscription that receives from s;
// wrap it with mq.NewSubscription. The driver takes s (and the topics in
// opts) over: closing the driver subscription (mq's Subscription.Shutdown)
// shuts them down. Unlike subscriptions opened by URL, it does not
// reconnect.
func NewSubscription(s *pubsub.Subscription, opts *SubscriptionOptions) (driver.Subscription, error) {
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case s == nil:
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: nil *pubsub.Subscription"}
	case o.Lease < 0 || o.MaxAttempts < 0:
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: negative Lease or MaxAttempts"}
	case o.RetryTopic != nil && o.Name == "":
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: a RetryTopic needs a Name, which marks the retried copies for this subscription"}
	case o.MaxAttempts > 1 && o.RetryTopic == nil:
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: MaxAttempts above 1 needs a RetryTopic: the Go CDK does not count deliveries"}
	case o.MaxAttempts > 0 && o.DeadLetterTopic == nil:
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: MaxAttempts needs a DeadLetterTopic"}
	}
	sub := &subscription{c: &conns{}, name: o.Name, cur: s, rel: s.Shutdown, givenDLQ: o.DeadLetterTopic}
	if o.RetryTopic != nil {
		sub.retry = NewTopic(o.RetryTopic, nil).(*topic)
	}
	sub.setup(o.Lease, o.MaxAttempts)
	return sub, nil
}

// openSubscription opens the subscription su through mux.
func openSubscription(ctx context.Context, mux *pubsub.URLMux, su *subURL) (*subscription, error) {
	s := &subscription{c: &conns{mux: mux}, u: su.cdk, name: su.name, retryURL: su.retry, dlqURL: su.deadLetter}
	s.parkable = s.c.ownsConn(su.cdk)
	cur, rel, err := s.c.openSubscription(ctx, su.cdk, su.name)
	if err != nil {
		_ = s.c.close()
		return nil, err
	}
	s.cur, s.rel = cur, rel
	s.setup(su.lease, su.maxAttempts)
	return s, nil
}

func (s *subscription) setup(lease time.Duration, maxAttempts int) {
	s.info = driver.SubscriptionInfo{
		Name:          s.name,
		Lease:         lease,
		MaxAttempts:   maxAttempts,
		HasDeadLetter: s.dlqURL != nil || s.givenDLQ != nil,
	}
	if s.canRetry() {
		s.caps.Attempts = driver.Driver
	}
}

func (s *subscription) canRetry() bool { return s.retryURL != nil || s.retry != nil }

// OpenDeadLetterTopic implements driver.DeadLetterTopicOpener: mq
// dead-letters by sending to this topic (with the dead-letter metadata)
// and then acking.
func (s *subscription) OpenDeadLetterTopic(ctx context.Context) (driver.Topic, error) {
	switch {
	case s.givenDLQ != nil:
		// The subscription shuts the given topic down itself.
		return &topic{c: &conns{}, cur: s.givenDLQ, now: time.Now, caps: topicCaps(0, 0)}, nil
	case s.dlqURL != nil:
		return openTopic(ctx, s.c.mux, s.dlqURL)
	}
	return nil, &driver.Error{Code: driver.Unsupported, Msg: "gocloud: subscription " + s.name + " has no dead_letter topic", Err: errors.ErrUnsupported}
}

// Info implements driver.Subscription.
func (s *subscription) Info() driver.SubscriptionInfo { return s.info }

// Capabilities implements driver.Subscription: the attempt count is the
// driver's (with a retry topic); mq emulates lease, nack delay, delayed
// delivery and dead-lettering.
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// As exposes the Go CDK subscription (**pubsub.Subscription) and, through
// it, the Go CDK driver's types (for example **amqp.Connection).
func (s *subscription) As(i any) bool {
	cur := s.snapshot()
	return asWith(i, cur, cur.As)
}

// ErrorAs implements driver.Common.
func (s *subscription) ErrorAs(err error, i any) bool {
	if cur := s.snapshot(); cur != nil {
		return errorAs(err, i, cur.ErrorAs)
	}
	return errorAs(err, i, nil)
}

func (s *subscription) snapshot() *pubsub.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// ErrorCode implements driver.Common.
func (s *subscription) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close shuts the Go CDK subscription down (a shared mem subscription
// stays, with its messages) and the retry and dead-letter topics, and
// closes the handle's connection, which hands back what the Go CDK fetched
// ahead.
func (s *subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.idle != nil {
		s.idle.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	if s.rel != nil {
		errs = append(errs, s.rel(ctx))
	}
	if s.retry != nil {
		errs = append(errs, s.retry.Close())
	}
	if s.givenDLQ != nil {
		errs = append(errs, s.givenDLQ.Shutdown(ctx))
	}
	errs = append(errs, s.c.close())
	return errors.Join(errs...)
}
