package wmportmq

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq"
)

// DefaultConsumerGroup is the consumer group of a Subscriber whose config
// names none.
const DefaultConsumerGroup = "watermill"

// SubscriberConfig configures a Subscriber. Nil means defaults.
type SubscriberConfig struct {
	// Mux opens the portmq URLs. Nil means mq.DefaultURLMux().
	Mux *mq.URLMux
	// ConsumerGroup replaces {group} in the URL template. Subscribers of
	// one group on one topic share its messages (one portmq
	// subscription); each group gets every message. Default
	// DefaultConsumerGroup.
	ConsumerGroup string
	// Concurrency is how many messages of one Subscribe call are out (sent
	// on its channel and not yet acked or nacked) at once. Default 1,
	// Watermill's convention: the next message comes after the previous
	// one was settled.
	Concurrency int
	// Backoff is the delay of a Nack: a nacked message comes back no
	// sooner than Backoff.Delay(attempt), doubling per attempt. The zero
	// value redelivers at once, as Watermill's subscribers do; Watermill's
	// Retry middleware is then not needed (set Backoff instead).
	Backoff mq.Backoff
	// MaxAttempts dead-letters a message nacked on attempt MaxAttempts or
	// later. Default: the subscription's max_attempts (from its URL); 0
	// there means never.
	MaxAttempts int
	// MaxExtension caps how long the lease of a message out with a
	// handler is extended. Default 1 h.
	MaxExtension time.Duration
	// Idempotency, if set, runs the handler to success at most once per
	// message (its DedupID, else its portmq ID); see mq.WithIdempotency.
	Idempotency mq.IdempotencyStore
	// Prefetch is passed to mq.WithPrefetch; 0 means mq's default.
	Prefetch int
	// OpenTimeout bounds opening a subscription in Subscribe and
	// SubscribeInitialize. Default 1 minute.
	OpenTimeout time.Duration
	// DrainTimeout is how long Close lets the messages out be settled
	// (handed-out ones acked or nacked; no new ones are handed out) before
	// it hands the rest back. Default 0: at once, as Watermill's
	// subscribers do. A Router closes its subscribers when it closes, while
	// its handlers still run: set DrainTimeout (below the Router's
	// CloseTimeout) so that their acks count.
	DrainTimeout time.Duration
	// CloseTimeout bounds shutting a subscription down. Default 30 s.
	CloseTimeout time.Duration
	// Logger receives failures Watermill cannot be told about (a failed
	// ack, a failed receive that is retried). Default: none.
	Logger *slog.Logger
	// Provision, if set, is called before the subscription of a topic is
	// opened (by Subscribe and SubscribeInitialize), to create what the
	// backend needs to exist first (a Kafka topic, with an mq.Admin); see
	// PublisherConfig.Provision. Default:
	// none (mem and amqp create on open).
	Provision func(ctx context.Context, topic, group string) error
}

// Subscriber is a Watermill message.Subscriber that receives through
// portmq. Each Subscribe call opens the portmq subscription of its topic
// and consumer group and runs an mq.Consumer over it. It is safe for
// concurrent use.
type Subscriber struct {
	tmpl template
	cfg  SubscriberConfig

	mu       sync.Mutex
	closed   bool
	out      int           // messages handed out and not settled
	drained  chan struct{} // closed when out reaches 0 after Close began
	draining chan struct{} // closed when Close starts
	closing  chan struct{} // closed when Close ends the runs
	runs     sync.WaitGroup
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

// NewSubscriber returns a Subscriber that receives a Watermill topic T
// from the portmq subscription URL urlTemplate with {topic} replaced by T
// and {group} by the consumer group (both escaped), for example
// "mem://{topic}/{group}?max_attempts=5" or
// "amqp://guest:guest@localhost:5672/?topic={topic}&subscription={group}".
func NewSubscriber(urlTemplate string, cfg *SubscriberConfig) (*Subscriber, error) {
	const op = "wmportmq.NewSubscriber"
	t, err := parseTemplate(op, urlTemplate, TopicPlaceholder, GroupPlaceholder)
	if err != nil {
		return nil, err
	}
	s := &Subscriber{tmpl: t, drained: make(chan struct{}), draining: make(chan struct{}), closing: make(chan struct{})}
	if cfg != nil {
		s.cfg = *cfg
	}
	c := &s.cfg
	switch {
	case c.Concurrency < 0, c.MaxAttempts < 0, c.MaxExtension < 0, c.OpenTimeout < 0, c.DrainTimeout < 0, c.CloseTimeout < 0, c.Prefetch < 0:
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "negative Concurrency, MaxAttempts, MaxExtension, Prefetch, OpenTimeout, DrainTimeout or CloseTimeout"}
	case c.Backoff.Min < 0 || c.Backoff.Max < c.Backoff.Min:
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "Backoff wants 0 <= Min <= Max"}
	}
	if c.Mux == nil {
		c.Mux = mq.DefaultURLMux()
	}
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = DefaultConsumerGroup
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.MaxExtension == 0 {
		c.MaxExtension = time.Hour
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = time.Minute
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 30 * time.Second
	}
	return s, nil
}

// URL returns the portmq subscription URL of topic for the Subscriber's
// consumer group.
func (s *Subscriber) URL(topic string) string { return s.tmpl.expand(topic, s.cfg.ConsumerGroup) }

func (s *Subscriber) open(ctx context.Context, op, topic string) (*mq.Subscription, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, &mq.Error{Code: mq.Closed, Op: op, Msg: "subscriber closed"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpenTimeout)
	defer cancel()
	if f := s.cfg.Provision; f != nil {
		err := provision(ctx, op, func(ctx context.Context, topic string) error { return f(ctx, topic, s.cfg.ConsumerGroup) }, topic)
		if err != nil {
			return nil, err
		}
	}
	var opts []mq.SubscriptionOption
	if s.cfg.Prefetch > 0 {
		opts = append(opts, mq.WithPrefetch(s.cfg.Prefetch))
	}
	return s.cfg.Mux.OpenSubscription(ctx, s.URL(topic), opts...)
}

// SubscribeInitialize opens the topic's subscription once and shuts it
// down: on backends where opening creates the subscription (mem, amqp),
// messages published from now on are kept for it. Watermill's test suite
// calls it before publishing.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	sub, err := s.open(context.Background(), "wmportmq.Subscriber.SubscribeInitialize", topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	return sub.Shutdown(ctx)
}

// Subscribe opens the topic's portmq subscription and returns a channel of
// its messages. It runs an mq.Consumer over the subscription, which keeps
// extending the lease of a message while it is out, counts attempts, and
// dead-letters at max attempts; see the package doc for how Ack and Nack
// map. The channel is closed when ctx ends (the messages out are then
// handed back to the backend at once and their contexts canceled) or the
// Subscriber is closed (see Close).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	const op = "wmportmq.Subscriber.Subscribe"
	sub, err := s.open(ctx, op, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	h := &handler{s: s, out: out}
	opts := []mq.ConsumerOption{
		mq.WithConcurrency(s.cfg.Concurrency),
		mq.WithBackoff(s.cfg.Backoff),
		mq.WithMaxExtension(s.cfg.MaxExtension),
		mq.WithMaxAttempts(s.cfg.MaxAttempts),
		mq.WithLogger(s.cfg.Logger),
	}
	if s.cfg.Idempotency != nil {
		opts = append(opts, mq.WithIdempotency(s.cfg.Idempotency))
	}
	c, err := mq.NewConsumer(sub, h.handle, opts...)
	if err != nil {
		s.shutdown(sub)
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.shutdown(sub)
		return nil, &mq.Error{Code: mq.Closed, Op: op, Msg: "subscriber closed"}
	}
	s.runs.Add(1)
	s.mu.Unlock()
	runCtx, stop := context.WithCancel(ctx)
	go func() {
		defer s.runs.Done()
		defer close(out)
		defer stop()
		go func() {
			select {
			case <-s.closing:
				stop()
			case <-runCtx.Done():
			}
		}()
		// Run ends when runCtx does (Subscribe's ctx, or Close): it cancels
		// the handlers, whose messages' contexts end with them, and hands
		// their deliveries back.
		if err := c.Run(runCtx); err != nil && runCtx.Err() == nil {
			s.logf("consumer stopped", topic, err)
		}
		s.shutdown(sub)
	}()
	return out, nil
}

func (s *Subscriber) shutdown(sub *mq.Subscription) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
	defer cancel()
	if err := sub.Shutdown(ctx); err != nil {
		s.logf("subscription shutdown failed", sub.Info().Name, err)
	}
}

func (s *Subscriber) logf(msg, name string, err error) {
	if s.cfg.Logger != nil {
		s.cfg.Logger.Warn("wmportmq: "+msg, "subscription", name, "err", err)
	}
}

// Close ends every Subscribe: it stops handing out messages, waits up to
// DrainTimeout for the messages out to be settled, then hands the rest
// back to the backend (a later Ack or Nack of them does nothing) and
// cancels their contexts, and closes the channels. It returns once every
// channel is closed. Later calls return nil.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.draining)
	if s.out == 0 {
		close(s.drained)
	}
	s.mu.Unlock()
	if s.cfg.DrainTimeout > 0 {
		t := time.NewTimer(s.cfg.DrainTimeout)
		select {
		case <-s.drained:
		case <-t.C:
		}
		t.Stop()
	}
	close(s.closing)
	s.runs.Wait()
	return nil
}

// errNacked is what the handler returns for a nacked message: the Consumer
// nacks it with the backoff's delay, or dead-letters it at max attempts.
var errNacked = errors.New("wmportmq: message nacked by its Watermill handler")

// handler hands deliveries to a Subscribe channel.
type handler struct {
	s   *Subscriber
	out chan<- *message.Message
}

// handedOut counts a message out; settled counts it back.
func (s *Subscriber) handedOut() {
	s.mu.Lock()
	s.out++
	s.mu.Unlock()
}

func (s *Subscriber) settled() {
	s.mu.Lock()
	s.out--
	if s.out == 0 && s.closed {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
	s.mu.Unlock()
}

// deliveryKey is the context key of a message's *mq.Delivery.
type deliveryKey struct{}

func (h *handler) handle(ctx context.Context, d *mq.Delivery) error {
	m := toWatermill(d)
	mctx, cancel := context.WithCancel(context.WithValue(ctx, deliveryKey{}, d))
	defer cancel() // settled (or handed back): the message's context ends
	m.SetContext(mctx)
	// Once Close started, hand out nothing more: the delivery goes back
	// when Close ends the run, which cancels ctx.
	select {
	case <-h.s.draining:
		<-ctx.Done()
		return ctx.Err()
	default:
	}
	// Counted out from before the send, so that a Close that starts while
	// the channel takes it waits for it.
	h.s.handedOut()
	select {
	case h.out <- m:
		defer h.s.settled()
	case <-h.s.draining:
		h.s.settled() // not out: the drain need not wait for it
		<-ctx.Done()
		return ctx.Err()
	case <-ctx.Done():
		h.s.settled()
		return ctx.Err()
	}
	select {
	case <-m.Acked():
		return nil
	case <-m.Nacked():
		return errNacked
	case <-ctx.Done():
		return ctx.Err()
	}
}
