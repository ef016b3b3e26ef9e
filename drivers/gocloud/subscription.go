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

	mu     sync.Mutex
	cur    *pubsub.Subscription
	rel    release
	gen    uint64 // counts reopenings; deliveries of older ones are stale
	broken bool   // cur failed for good: reopen before use
	retry  *topic
	closed bool
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

// current returns the Go CDK subscription to receive from and its
// generation, reopening it after it failed for good (the Go CDK keeps
// returning the same error once ReceiveBatch or SendAcks failed with a
// non-retryable one).
func (s *subscription) current(ctx context.Context) (*pubsub.Subscription, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.broken || s.u == nil || lookupScheme(s.u.Scheme).shared {
		return s.cur, s.gen, nil
	}
	if s.rel != nil {
		sctx, cancel := context.WithTimeout(ctx, closeTimeout)
		_ = s.rel(sctx)
		cancel()
	}
	s.cur, s.rel = nil, nil
	s.c.reset() // hands the old deliveries back, where the backend ties them to the connection
	s.gen++
	cur, rel, err := s.c.openSubscription(ctx, s.u, s.name)
	if err != nil {
		return nil, 0, err
	}
	s.cur, s.rel, s.broken = cur, rel, false
	return cur, s.gen, nil
}

// ReceiveBatch returns one delivery at a time: the Go CDK's Receive
// already fetches in batches behind it. Retried copies meant for another
// subscription of the retry topic are acked and skipped.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		cur, gen, err := s.current(ctx)
		if err != nil {
			return 0, err
		}
		m, err := cur.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			s.mu.Lock()
			if s.gen == gen {
				s.broken = true
			}
			s.mu.Unlock()
			return 0, err
		}
		attrs, d := decode(m.Metadata)
		if d.retryFor != "" && d.retryFor != s.name {
			m.Ack()
			continue
		}
		s.fill(&dst[0], m, gen, attrs, &d)
		return 1, nil
	}
}

func (s *subscription) fill(dm *driver.Message, m *pubsub.Message, gen uint64, attrs map[string]string, d *decoded) {
	id := d.id
	if id == "" {
		id = m.LoggableID // not sent through portmq
	}
	rec := &delivery{m: m, gen: gen, id: id, attempt: max(d.attempt, 1)}
	*dm = driver.Message{
		ID:          id,
		Body:        m.Body,
		Attributes:  attrs,
		Key:         d.key,
		DedupID:     d.dedupID,
		PublishedAt: d.publishedAt,
		AckID:       driver.AckID{Ref: rec},
		AsFunc:      messageAs(m),
	}
	if s.caps.Attempts.Has() {
		dm.Attempt = rec.attempt
	}
}

// messageAs exposes the Go CDK message (**pubsub.Message) and, through
// it, the Go CDK driver's message type (for example *amqp.Delivery).
func messageAs(m *pubsub.Message) func(any) bool {
	return func(i any) bool {
		if !validTarget(i) {
			return false
		}
		if p, ok := i.(**pubsub.Message); ok {
			*p = m
			return true
		}
		return m.As(i)
	}
}

// claim marks the delivery id settled, or says why it cannot be.
func (s *subscription) claim(id driver.AckID) (*delivery, error) {
	rec, ok := id.Ref.(*delivery)
	if !ok || rec == nil || rec.m == nil || !rec.settled.CompareAndSwap(false, true) {
		return nil, driver.ErrLeaseExpired()
	}
	s.mu.Lock()
	stale := rec.gen != s.gen
	s.mu.Unlock()
	if stale {
		// Its connection was reset: the backend has it back.
		return nil, driver.ErrLeaseExpired()
	}
	return rec, nil
}

// Ack acknowledges through the Go CDK, which sends acks in the background:
// a failed ack surfaces as an error of a later ReceiveBatch, and the
// message is delivered again.
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	var errs []error
	for i, id := range ids {
		rec, err := s.claim(id)
		if err != nil {
			if errs == nil {
				errs = make([]error, len(ids))
			}
			errs[i] = err
			continue
		}
		rec.m.Ack()
	}
	return batchErr(errs)
}

// Nack makes the deliveries available again. With a retry topic it
// republishes a copy carrying the next attempt number and then acks the
// original (a crash in between leaves both, never neither); without one it
// nacks through the Go CDK, uncounted, where the Go CDK driver can nack
// (Message.Nackable) and fails with Unsupported where it cannot (the
// backend then redelivers after its own ack deadline, if it has one).
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, _ time.Duration) error {
	recs := make([]*delivery, len(ids))
	errs := make([]error, len(ids))
	for i, id := range ids {
		recs[i], errs[i] = s.claim(id)
	}
	if !s.canRetry() {
		for i, rec := range recs {
			switch {
			case rec == nil:
			case rec.m.Nackable():
				rec.m.Nack()
			default:
				errs[i] = &driver.Error{Code: driver.Unsupported, Msg: "gocloud: this Go CDK driver cannot nack and the subscription has no retry_topic; the backend redelivers after its own ack deadline, if it has one", Err: errors.ErrUnsupported}
			}
		}
		return batchErr(errs)
	}
	rt, err := s.retryTopic(ctx)
	var cur *pubsub.Topic
	if err == nil {
		cur, err = rt.current(ctx)
	}
	var wg sync.WaitGroup
	for i, rec := range recs {
		switch {
		case rec == nil:
		case err != nil:
			s.giveBack(rec)
			errs[i] = err
		default:
			wg.Go(func() {
				md := retryMetadata(rec.m.Metadata, rec.attempt+1, s.name, rec.id)
				if errs[i] = rt.sendRaw(ctx, cur, rec.m.Body, md, rec.id); errs[i] != nil {
					s.giveBack(rec)
					return
				}
				rec.m.Ack()
			})
		}
	}
	wg.Wait()
	return batchErr(errs)
}

// giveBack returns a delivery whose retry copy could not be sent: nacked
// where the Go CDK driver can, else left to the backend's ack deadline.
func (s *subscription) giveBack(rec *delivery) {
	if rec.m.Nackable() {
		rec.m.Nack()
	}
}

// retryTopic opens the retry topic on first use.
func (s *subscription) retryTopic(ctx context.Context) (*topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retry != nil {
		return s.retry, nil
	}
	if s.closed {
		return nil, &driver.Error{Code: driver.Closed, Msg: "gocloud: subscription closed"}
	}
	t, err := openTopic(ctx, s.c.mux, s.retryURL)
	if err != nil {
		return nil, err
	}
	s.retry = t
	return t, nil
}

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

// Extend does nothing: the Go CDK exposes no lease, so mq keeps it
// (Capabilities.Lease is None).
func (s *subscription) Extend(context.Context, []driver.AckID, time.Duration) error { return nil }

// Info implements driver.Subscription.
func (s *subscription) Info() driver.SubscriptionInfo { return s.info }

// Capabilities implements driver.Subscription: the attempt count is the
// driver's (with a retry topic); mq emulates lease, nack delay, delayed
// delivery and dead-lettering.
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// As exposes the Go CDK subscription (**pubsub.Subscription) and, through
// it, the Go CDK driver's types (for example **amqp.Connection).
func (s *subscription) As(i any) bool {
	if !validTarget(i) {
		return false
	}
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	if cur == nil {
		return false
	}
	if p, ok := i.(**pubsub.Subscription); ok {
		*p = cur
		return true
	}
	return cur.As(i)
}

// ErrorAs implements driver.Common.
func (s *subscription) ErrorAs(err error, i any) bool {
	s.mu.Lock()
	cur := s.cur
	s.mu.Unlock()
	var as func(error, any) bool
	if cur != nil {
		as = cur.ErrorAs
	}
	return errorAs(err, i, as)
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

// batchErr returns nil if every item succeeded, the error of a single
// item, or a *driver.BatchError.
func batchErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			if len(errs) == 1 {
				return err
			}
			return &driver.BatchError{Errs: errs}
		}
	}
	return nil
}
