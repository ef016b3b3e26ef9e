package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// holdings remembers which wait or delay queues a handle declared and
// when, so that it declares each again (renewing its x-expires) before the
// queue could expire with messages in it.
type holdings struct {
	mu        sync.Mutex
	declared  map[string]time.Time
	declaring map[string]chan struct{} // closed when the declare in flight ends
}

// ensure declares the holding queue name (messages wait ttl, then go to
// exchange with routing key rk) unless this handle did so recently. It
// reports whether this call declared it. Concurrent callers for one name
// share one declare: RabbitMQ 3.10 nacks about a third of the publishes
// that follow two concurrent declares of a new quorum queue (measured),
// which made the first delayed nacks of a burst come back at once.
func (h *holdings) ensure(ctx context.Context, l *link, name string, ttl time.Duration, exchange, rk string) (bool, error) {
	for {
		h.mu.Lock()
		at, ok := h.declared[name]
		if ok && time.Since(at) < holdingExpiry(ttl)/2 {
			h.mu.Unlock()
			return false, nil
		}
		wait, busy := h.declaring[name]
		if !busy {
			if h.declaring == nil {
				h.declaring = map[string]chan struct{}{}
			}
			h.declaring[name] = make(chan struct{})
			h.mu.Unlock()
			break
		}
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	err := l.withChannel(ctx, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(name, true, false, false, false, holdingArgs(ttl, exchange, rk))
		return err
	})
	h.mu.Lock()
	if err == nil {
		if h.declared == nil {
			h.declared = map[string]time.Time{}
		}
		h.declared[name] = time.Now()
	}
	close(h.declaring[name])
	delete(h.declaring, name)
	h.mu.Unlock()
	if err != nil {
		return false, declareError("queue "+strconv.Quote(name), err)
	}
	return true, nil
}

// forget drops name (it turned out to be gone), or everything for "".
func (h *holdings) forget(name string) {
	h.mu.Lock()
	if name == "" {
		clear(h.declared)
	} else {
		delete(h.declared, name)
	}
	h.mu.Unlock()
}

// holdAndPublish publishes m to the holding queue name, declaring it
// first; if the queue vanished (it expired), it declares it again and
// retries once.
func (h *holdings) holdAndPublish(ctx context.Context, l *link, p *publisher, name string, ttl time.Duration, exchange, rk string, m amqp.Publishing) error {
	for try := 0; ; try++ {
		fresh, err := h.ensure(ctx, l, name, ttl, exchange, rk)
		if err != nil {
			return err
		}
		err = p.publishOne(ctx, target{key: name, mandatory: true}, m)
		switch {
		case err == nil || try > 0:
			return err
		case driver.CodeOf(err) == driver.FailedPrecondition:
			h.forget(name) // unroutable: the queue expired
		case fresh && driver.CodeOf(err) == driver.Unavailable && errors.Is(err, errPublishNacked):
			// A new quorum queue that another process declared at the same
			// moment nacked it; nothing was stored, so it goes again.
		default:
			return err
		}
	}
}

// retryLater implements Nack with a delay: the message is republished to
// the wait queue of the delay's bucket, whose TTL dead-letters it back to
// the queue, and the delivery is acked. If the republish fails the
// delivery is requeued instead (it comes back early rather than never).
func (s *subscription) retryLater(ctx context.Context, ss *session, e *entry, delay time.Duration) error {
	b := bucket(delay)
	wq := waitQueue(s.queue, b)
	m := e.republishing(map[string]string{hdrPrior: priorValue(e.attempt, s.queue)})
	p, err := s.publisher(ctx)
	if err == nil {
		err = s.waits.holdAndPublish(ctx, s.l, p, wq, b, "", s.queue, m)
	}
	return ss.moved(e, err)
}

// rejectToDeadLetter dead-letters a delivery at max attempts through the
// queue's dead-letter exchange (basic.reject without requeue): the broker
// moves it in one step, so a fault cannot leave both a dead letter and
// the original (as publish-then-ack can). The reader of the dead-letter
// queue gets the metadata from x-death (see translateDeath).
func (s *subscription) rejectToDeadLetter(ss *session, e *entry) error {
	if err := ss.ch.Reject(e.d.DeliveryTag, false); err != nil {
		ss.kill()
		return leaseLost()
	}
	ss.release(e)
	return nil
}

// maxAttemptsReached dead-letters a delivery that used its attempts:
// through the broker when the queue has a dead-letter exchange, else by
// the driver (which then fails: there is nowhere to put it).
func (s *subscription) maxAttemptsReached(ctx context.Context, ss *session, e *entry) error {
	if s.spec.deadLetter != "" {
		return s.rejectToDeadLetter(ss, e)
	}
	return s.deadLetter(ctx, ss, e, redeliver.MaxAttemptsReason(s.opts.MaxAttempts), e.attempt)
}

// deadLetter moves a delivery to the dead-letter topic with portmq's
// metadata attributes, then acks it. On failure the delivery is requeued,
// so nothing is lost.
func (s *subscription) deadLetter(ctx context.Context, ss *session, e *entry, reason string, attempts int) error {
	if err := ss.moved(e, s.publishDeadLetter(ctx, e, reason, attempts)); err != nil {
		return err
	}
	ss.release(e)
	return nil
}

// moved settles a delivery whose copy was republished (err nil: ack it)
// or could not be (requeue it, so nothing is lost, and return err).
//
// Publishing the copy (confirmed) and acking the original are two steps
// RabbitMQ cannot make atomic. If the channel is lost between them, the
// ack is lost and the broker delivers the original again besides the
// copy: the handle remembers the original (orphans) and drops it when it
// comes back here, which it does when this handle is the queue's only
// reader or gets it first.
func (ss *session) moved(e *entry, err error) error {
	if err != nil {
		if nerr := ss.ch.Reject(e.d.DeliveryTag, true); nerr != nil {
			ss.kill()
		}
		return err
	}
	if testHookCopied != nil {
		testHookCopied(ss)
	}
	if err := ss.ch.Ack(e.d.DeliveryTag, false); err != nil {
		ss.kill()
		ss.sub.orphans.add(e)
		return leaseLost()
	}
	return nil
}

// testHookCopied, if set, runs between a copy's confirm and the
// original's ack (tests cut the channel there).
var testHookCopied func(*session)

// orphans are originals whose copy was republished but whose ack was
// lost with their channel, by message ID, with the portmq-prior-attempts
// header they had (the copy's differs).
type orphans struct {
	n  atomic.Int32 // len(m), read without the lock on every delivery
	mu sync.Mutex
	m  map[string]orphan
}

type orphan struct {
	prior string
	at    time.Time
}

// orphanTTL bounds how long an orphan is remembered: the broker gives the
// original back at once when its channel closes, so it comes back (here
// or to another handle) long before.
const orphanTTL = 10 * time.Minute

func (o *orphans) add(e *entry) {
	if e.d.MessageId == "" {
		return
	}
	prior, _ := e.d.Headers[hdrPrior].(string)
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]orphan{}
	}
	if len(o.m) >= 1024 {
		for k, v := range o.m {
			if now.Sub(v.at) > orphanTTL {
				delete(o.m, k)
			}
		}
	}
	if len(o.m) >= 1<<16 {
		clear(o.m) // a fault storm: forget rather than grow without bound
	}
	o.m[e.d.MessageId] = orphan{prior: prior, at: now}
	o.n.Store(int32(len(o.m)))
}

// take reports (and forgets) whether d is an orphaned original.
func (o *orphans) take(d *amqp.Delivery) bool {
	if o.n.Load() == 0 || d.MessageId == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	or, ok := o.m[d.MessageId]
	prior, _ := d.Headers[hdrPrior].(string)
	if !ok || or.prior != prior || time.Since(or.at) > orphanTTL {
		return false
	}
	delete(o.m, d.MessageId)
	o.n.Store(int32(len(o.m)))
	return true
}

func (s *subscription) publishDeadLetter(ctx context.Context, e *entry, reason string, attempts int) error {
	if s.spec.deadLetter == "" {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: "rabbitmq: subscription " + strconv.Quote(s.queue) + " has no dead-letter destination (set dead_letter or max_attempts); the message was requeued"}
	}
	p, err := s.publisher(ctx)
	if err != nil {
		return err
	}
	m := e.republishing(redeliver.DeadLetter(&driver.Message{}, reason, attempts, s.info.Name, 0).Attributes)
	to := target{exchange: s.spec.deadLetter, key: dlRoutingKey(s.spec.maxAttempts), mandatory: true}
	return p.publishOne(ctx, to, m)
}
