package watermill

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq/driver"
)

// SubscriptionOptions configures a subscription made with NewSubscription.
// Nil means defaults.
type SubscriptionOptions struct {
	// Name names the subscription in dead-letter metadata. Default: the
	// topic.
	Name string
	// Lease is the lease mq keeps for each delivery (Watermill has none).
	// Default 30 s.
	Lease time.Duration
	// DeadLetter, if set, is the Watermill Publisher and topic dead
	// letters go to; the driver takes the publisher over.
	DeadLetter message.Publisher
	// DeadLetterTopic is the topic of DeadLetter.
	DeadLetterTopic string
	// ErrorCode classifies the backend's errors; see Backend.ErrorCode.
	ErrorCode func(error) driver.ErrorCode
}

// subscription is a driver.Subscription over a Watermill Subscriber.
type subscription struct {
	sub   message.Subscriber
	topic string
	info  driver.SubscriptionInfo
	b     Backend

	// openDLQ opens the dead-letter topic; nil: none.
	openDLQ func(ctx context.Context) (driver.Topic, error)

	// runCtx is the context of Subscribe calls, canceled by Close.
	runCtx context.Context
	stop   context.CancelFunc

	mu     sync.Mutex
	ch     <-chan *message.Message // nil: subscribe on the next receive
	closed bool
}

// delivery is the AckID.Ref of a delivery.
type delivery struct {
	m       *message.Message
	settled atomic.Bool
}

// NewSubscription returns a driver.Subscription that receives the
// Watermill topic name with sub; wrap it with mq.NewSubscription. It calls
// sub.Subscribe now. The driver takes sub (and opts.DeadLetter) over:
// closing the subscription (Subscription.Shutdown) closes them.
func NewSubscription(sub message.Subscriber, name string, opts *SubscriptionOptions) (driver.Subscription, error) {
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case sub == nil || name == "":
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "watermill: NewSubscription needs a Subscriber and a topic name"}
	case o.Lease < 0:
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "watermill: negative Lease"}
	case (o.DeadLetter == nil) != (o.DeadLetterTopic == ""):
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "watermill: DeadLetter and DeadLetterTopic go together"}
	}
	if o.Lease == 0 {
		o.Lease = defaultLease
	}
	b := Backend{ErrorCode: o.ErrorCode}
	s := newSubscription(sub, name, &o, b)
	if o.DeadLetter != nil {
		t := newTopic(o.DeadLetter, o.DeadLetterTopic, 0, b)
		s.openDLQ = func(context.Context) (driver.Topic, error) { return t, nil }
	}
	if err := s.subscribe(context.Background()); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func newSubscription(sub message.Subscriber, topic string, o *SubscriptionOptions, b Backend) *subscription {
	name := o.Name
	if name == "" {
		name = topic
	}
	s := &subscription{sub: sub, topic: topic, b: b}
	s.info = driver.SubscriptionInfo{Name: name, Lease: o.Lease, HasDeadLetter: o.DeadLetter != nil}
	s.runCtx, s.stop = context.WithCancel(context.Background())
	return s
}

// subscribe calls Subscribe unless a channel is open, and returns it.
func (s *subscription) subscribe(ctx context.Context) error {
	_, err := s.channel(ctx)
	return err
}

func (s *subscription) channel(ctx context.Context) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &driver.Error{Code: driver.Closed, Msg: "watermill: subscription closed"}
	}
	if s.ch != nil {
		return s.ch, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, err := s.sub.Subscribe(s.runCtx, s.topic)
	if err != nil {
		return nil, &driver.Error{Code: classify(s.b, err), Msg: "watermill: subscribing to topic " + s.topic, Err: err}
	}
	s.ch = ch
	return ch, nil
}

// ReceiveBatch waits for one message of the Subscribe channel, then takes
// what else is ready, up to len(dst). A channel the Watermill subscriber
// closed (the backend's connection ended) is an Unavailable error; the
// next call subscribes again.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	ch, err := s.channel(ctx)
	if err != nil {
		return 0, err
	}
	var m *message.Message
	ok := true
	select {
	case m, ok = <-ch:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.runCtx.Done():
		return 0, &driver.Error{Code: driver.Closed, Msg: "watermill: subscription closed"}
	}
	if !ok {
		return 0, s.lost(ch)
	}
	n := 0
	for {
		fill(&dst[n], m)
		n++
		if n == len(dst) {
			return n, nil
		}
		select {
		case m, ok = <-ch:
			if !ok {
				_ = s.lost(ch)
				return n, nil
			}
		default:
			return n, nil
		}
	}
}

// lost forgets a channel the Watermill subscriber closed.
func (s *subscription) lost(ch <-chan *message.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &driver.Error{Code: driver.Closed, Msg: "watermill: subscription closed"}
	}
	if s.ch == ch {
		s.ch = nil
	}
	return &driver.Error{Code: driver.Unavailable, Msg: "watermill: the subscriber closed its channel of topic " + s.topic + "; subscribing again on the next receive"}
}

func fill(dm *driver.Message, m *message.Message) {
	*dm = driver.Message{AckID: driver.AckID{Ref: &delivery{m: m}}, Native: m}
	decode(dm, m)
}

// settle runs f (Ack or Nack) on each delivery not settled before.
func settle(ids []driver.AckID, f func(*message.Message) bool) error {
	var errs []error
	for i, id := range ids {
		rec, ok := id.Ref.(*delivery)
		if !ok || rec == nil || rec.m == nil || !rec.settled.CompareAndSwap(false, true) || !f(rec.m) {
			errs = driver.SetItemError(errs, len(ids), i, driver.ErrLeaseExpired())
		}
	}
	return driver.BatchResult(errs)
}

// Ack acks the Watermill messages.
func (s *subscription) Ack(_ context.Context, ids []driver.AckID) error {
	return settle(ids, (*message.Message).Ack)
}

// Nack nacks the Watermill messages: the Watermill backend redelivers
// them (at once, or as it does). delay is always 0: mq holds delayed
// nacks (Capabilities.NackDelay is none).
func (s *subscription) Nack(_ context.Context, ids []driver.AckID, _ time.Duration) error {
	return settle(ids, (*message.Message).Nack)
}

// OpenDeadLetterTopic implements driver.DeadLetterTopicOpener: mq
// dead-letters by publishing there and then acking.
func (s *subscription) OpenDeadLetterTopic(ctx context.Context) (driver.Topic, error) {
	if s.openDLQ == nil {
		return nil, &driver.Error{Code: driver.Unsupported, Msg: "watermill: subscription " + s.info.Name + " has no dead_letter topic", Err: errors.ErrUnsupported}
	}
	return s.openDLQ(ctx)
}

// Info implements driver.Subscription.
func (s *subscription) Info() driver.SubscriptionInfo { return s.info }

// Capabilities implements driver.Subscription: none; mq keeps the lease,
// holds delayed nacks and delayed messages, and dead-letters on request.
func (s *subscription) Capabilities() driver.Capabilities { return driver.Capabilities{} }

// As exposes the Watermill Subscriber (*message.Subscriber, or a pointer
// to its concrete type).
func (s *subscription) As(i any) bool { return asValue(i, s.sub) }

// ErrorAs implements driver.Common.
func (s *subscription) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (s *subscription) ErrorCode(err error) driver.ErrorCode { return classify(s.b, err) }

// Close cancels the Subscribe call and closes the Watermill Subscriber.
// mq has handed unsettled deliveries back (nacked) before.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	return s.sub.Close()
}
