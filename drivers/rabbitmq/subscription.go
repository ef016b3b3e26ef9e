package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// subscription is a driver.Subscription on one quorum queue. It consumes
// through one AMQP channel at a time (a session); when the channel or the
// connection is lost, the next receive reconnects (one try per call: mq
// paces the retries), declares the queue again and resumes consuming. Deliveries of a lost channel can
// no longer be settled: the broker has put them back.
type subscription struct {
	native
	queue string
	opts  SubscriptionOptions
	spec  queueSpec
	caps  driver.Capabilities
	info  driver.SubscriptionInfo

	mu         sync.Mutex
	cur        *session
	closed     bool
	connecting *dialCall // non-nil while (re)connecting

	pubs pubSlot // republishes: delayed nacks, dead letters

	waits holdings // the wait queues this handle declared

	orphans orphans // originals whose ack was lost after they were copied
}

var (
	_ driver.Subscription = (*subscription)(nil)
	_ driver.DeadLetterer = (*subscription)(nil)
)

// NewSubscription returns a subscription on queue over conn, declaring
// the queue (a durable quorum queue, bound to opts.Topic if set) and its
// dead-letter topic. conn stays the caller's: Close closes only what the
// handle opened. Wrap the result with mq.NewSubscription.
func NewSubscription(conn *amqp.Connection, queue string, opts *SubscriptionOptions) (driver.Subscription, error) {
	var redial func(context.Context) (*amqp.Connection, error)
	if opts != nil {
		redial = opts.Redial
	}
	l, err := callerLink("NewSubscription", conn, queue, redial)
	if err != nil {
		return nil, err
	}
	return newSubscription(l, queue, opts)
}

func newSubscription(l *link, queue string, o *SubscriptionOptions) (*subscription, error) {
	opts, err := o.withDefaults(queue)
	if err != nil {
		return nil, err
	}
	s := &subscription{
		native: native{l},
		queue:  queue,
		opts:   opts,
		spec:   queueSpec{name: queue, maxAttempts: opts.MaxAttempts, deadLetter: opts.DeadLetterTopic, ordered: opts.Ordered},
		caps:   capabilities(opts.MaxBodySize),
	}
	if opts.Ordered {
		// A delayed retry must keep its place in the queue ahead of later
		// messages of its key, so the message stays with the handle: mq
		// holds it until due, then the driver redelivers it locally.
		s.caps.NackDelay = driver.None
	}
	name := queue
	if opts.Topic != "" {
		name = opts.Topic + "/" + queue
	}
	s.info = driver.SubscriptionInfo{
		Name:          name,
		Lease:         opts.Lease,
		MaxAttempts:   opts.MaxAttempts,
		Ordered:       opts.Ordered,
		HasDeadLetter: opts.DeadLetterTopic != "",
	}
	ss, err := s.open()
	if err != nil {
		return nil, err
	}
	s.cur = ss
	return s, nil
}

// open opens a channel, declares the topology and sets the prefetch.
func (s *subscription) open() (*session, error) {
	conn, err := s.l.get(context.Background())
	if err != nil {
		return nil, err
	}
	return s.openOn(conn)
}

func (s *subscription) openOn(conn *amqp.Connection) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := declareQueue(ch, brokerMajor(conn), s.opts.Topic, &s.spec); err != nil {
		_ = ch.Close()
		return nil, declareError("subscription "+strconv.Quote(s.queue), err)
	}
	if err := ch.Qos(s.opts.Prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return newSession(s, ch), nil
}

// session returns the live session, reconnecting once when it is gone.
func (s *subscription) session(ctx context.Context) (*session, error) {
	s.mu.Lock()
	for {
		switch {
		case s.closed:
			s.mu.Unlock()
			return nil, errClosed
		case s.cur != nil && s.cur.alive():
			ss := s.cur
			s.mu.Unlock()
			return ss, nil
		case s.connecting != nil:
			w := s.connecting
			s.mu.Unlock()
			select {
			case <-w.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// Share the outcome of the reconnect (one try per round of
			// mq's retries), unless it ended with its caller's context.
			if w.err != nil && !isContextError(w.err) {
				return nil, w.err
			}
			s.mu.Lock()
			continue
		}
		break
	}
	done := &dialCall{done: make(chan struct{})}
	s.connecting = done
	old := s.cur
	s.mu.Unlock()
	if old != nil {
		old.kill()
	}
	ss, err := s.reconnect(ctx)
	s.mu.Lock()
	s.connecting = nil
	if err == nil {
		if s.closed {
			ss.kill()
			ss, err = nil, errClosed
		} else {
			s.cur = ss
		}
	}
	done.err = err
	close(done.done)
	s.mu.Unlock()
	return ss, err
}

// reconnect opens a new session: one try (the link dials once if the
// connection is gone). On failure mq waits and receives again (rule 15).
func (s *subscription) reconnect(ctx context.Context) (*session, error) {
	conn, err := s.l.get(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := s.openOn(conn)
	if err != nil {
		return nil, err
	}
	s.waits.forget("") // the broker may have lost them
	return ss, nil
}

// errSessionDead makes ReceiveBatch reconnect.
var errSessionDead = errors.New("rabbitmq: session is dead")

// ReceiveBatch implements driver.Subscription.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for {
		ss, err := s.session(ctx)
		if err != nil {
			return 0, err
		}
		n, err := ss.receive(ctx, dst)
		if err == errSessionDead {
			continue
		}
		return n, err
	}
}

// lookup finds and takes the entry an AckID names.
func (s *subscription) lookup(id driver.AckID) (*session, *entry, error) {
	ss, ok := id.Ref.(*session)
	if !ok || ss == nil || ss.sub != s {
		return nil, nil, driver.ErrLeaseExpired()
	}
	tag := id.Seq & (1<<seqShift - 1)
	ss.mu.Lock()
	e := ss.unacked[tag]
	if e == nil || e.handouts != id.Seq>>seqShift {
		ss.mu.Unlock()
		if !ss.alive() {
			return nil, nil, leaseLost()
		}
		return nil, nil, driver.ErrLeaseExpired()
	}
	delete(ss.unacked, tag)
	ss.mu.Unlock()
	if !ss.alive() {
		return nil, nil, leaseLost()
	}
	return ss, e, nil
}

// each runs f on every id and collects the errors.
func (s *subscription) each(ids []driver.AckID, f func(i int, ss *session, e *entry) error) error {
	var errs []error
	for i, id := range ids {
		ss, e, err := s.lookup(id)
		if err == nil {
			err = f(i, ss, e)
		}
		errs = driver.SetItemError(errs, len(ids), i, err)
	}
	return driver.BatchResult(errs)
}

// Ack implements driver.Subscription.
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	return s.each(ids, func(_ int, ss *session, e *entry) error {
		if err := ss.ch.Ack(e.d.DeliveryTag, false); err != nil {
			ss.kill()
			return leaseLost()
		}
		ss.release(e)
		return nil
	})
}

// Nack implements driver.Subscription: requeue (delay 0), republish to a
// wait queue (delay > 0), redeliver locally (ordered), or dead-letter at
// max attempts.
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	return s.each(ids, func(_ int, ss *session, e *entry) error {
		switch {
		case s.opts.MaxAttempts > 0 && e.attempt >= s.opts.MaxAttempts:
			return s.maxAttemptsReached(ctx, ss, e)
		case s.opts.Ordered && delay > 0:
			ss.redeliverAfter(e, delay)
			return nil
		case s.opts.Ordered:
			ss.redeliver(e)
			return nil
		case delay > 0:
			return s.retryLater(ctx, ss, e, delay)
		}
		// Not to this handle straight away if nobody is receiving here
		// (for example, it is shutting down): the broker would redeliver
		// the message to the idle consumer.
		if s.opts.IdleCancel > 0 {
			ss.idleCancel()
		}
		if err := ss.ch.Reject(e.d.DeliveryTag, true); err != nil {
			ss.kill()
			return leaseLost()
		}
		return nil
	})
}

// DeadLetter implements driver.DeadLetterer.
func (s *subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	ids := make([]driver.AckID, len(items))
	for i, it := range items {
		ids[i] = it.AckID
	}
	return s.each(ids, func(i int, ss *session, e *entry) error {
		return s.deadLetter(ctx, ss, e, items[i].Reason, e.attempt)
	})
}

func (s *subscription) Info() driver.SubscriptionInfo     { return s.info }
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// As accepts **amqp.Connection and **amqp.Channel (the consume channel).
func (s *subscription) As(i any) bool {
	return s.as(i, func() *amqp.Channel {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cur == nil {
			return nil
		}
		return s.cur.ch
	})
}

// Close closes the channels (the broker puts unsettled deliveries back at
// once) and the connection if the handle dialed it.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ss := s.cur
	s.mu.Unlock()
	if ss != nil {
		ss.kill()
		ss.cmu.Lock() // waits for an idle cancel in progress
		ss.cons = nil
		ss.cmu.Unlock()
	}
	s.pubs.close()
	s.l.close()
	return nil
}

// publisher returns the handle's live confirm-mode channel for
// republishing.
func (s *subscription) publisher(ctx context.Context) (*publisher, error) {
	return s.pubs.get(ctx, s.l, s.opts.MaxInFlight, nil)
}
