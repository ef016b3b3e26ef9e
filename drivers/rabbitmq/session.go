package rabbitmq

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/internal/keyhold"
	"github.com/portmq/portmq/mq/driver"
)

// session is one AMQP channel a subscription consumes on, with the
// deliveries it holds. AckIDs point at their session, so a delivery of a
// dead channel is recognised and reported instead of acked on the wrong
// channel (where its tag would mean another message, or close the
// channel with PRECONDITION_FAILED).
type session struct {
	sub  *subscription
	ch   *amqp.Channel
	dead chan struct{}
	once sync.Once

	// cmu guards the consumer's lifecycle (start, idle cancel).
	cmu  sync.Mutex
	cons *consumer

	mu      sync.Mutex
	unacked map[uint64]*entry    // every delivery held, by tag
	local   []*entry             // ready to hand out, in order
	keys    keyhold.Hold[*entry] // ordered: keys with a message out
	waiting int                  // receive calls waiting for deliveries
	idle    *time.Timer          // cancels the consumer when nobody waits
	armed   bool                 // idle is running
	since   time.Time            // when waiting last dropped to 0
	wake    chan struct{}        // signaled when local gains entries

	// reader is held (a token in it) by the one receive that reads the
	// consumer's deliveries, so that they are admitted in the order the
	// broker sent them (which per-key ordering relies on).
	reader chan struct{}
}

// consumer is one basic.consume on the session's channel.
type consumer struct {
	tag        string
	deliveries <-chan amqp.Delivery
	cancelled  atomic.Bool
}

func newSession(s *subscription, ch *amqp.Channel) *session {
	ss := &session{
		sub:     s,
		ch:      ch,
		dead:    make(chan struct{}),
		unacked: make(map[uint64]*entry, s.opts.Prefetch),
		wake:    make(chan struct{}, 1),
		reader:  make(chan struct{}, 1),
	}
	if s.opts.IdleCancel > 0 && !s.opts.Ordered {
		ss.idle = time.AfterFunc(time.Hour, ss.idleFire)
		ss.idle.Stop()
	}
	return ss
}

func (ss *session) alive() bool {
	select {
	case <-ss.dead:
		return false
	default:
		return !ss.ch.IsClosed()
	}
}

// kill ends the session: the channel is closed, which hands every
// delivery it holds back to the broker.
func (ss *session) kill() {
	ss.once.Do(func() {
		close(ss.dead)
		if ss.idle != nil {
			ss.idle.Stop()
		}
		_ = ss.ch.Close()
	})
}

func (ss *session) signal() {
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

// receive hands out up to len(dst) deliveries: those the session holds
// ready, else those the consumer brings, waiting until at least one is
// there, ctx ends or the session dies (errSessionDead).
func (ss *session) receive(ctx context.Context, dst []driver.Message) (int, error) {
	for {
		if !ss.alive() {
			// What it holds went back to the queue with the channel.
			return 0, errSessionDead
		}
		if n := ss.take(dst); n > 0 {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err // do not start a consumer nobody will read
		}
		c, err := ss.consumer()
		if err != nil {
			ss.kill()
			if retryable(err) {
				return 0, errSessionDead
			}
			return 0, err
		}
		n, again, err := ss.await(ctx, c, dst)
		if !again {
			return n, err
		}
	}
}

// await waits on consumer c. again means c was cancelled: start over.
func (ss *session) await(ctx context.Context, c *consumer, dst []driver.Message) (n int, again bool, err error) {
	ss.enter()
	defer func() { ss.leave(ctx.Err() != nil) }()
	for {
		select {
		case ss.reader <- struct{}{}:
			n, again, done, err := ss.read(ctx, c, dst)
			<-ss.reader
			if done {
				return n, again, err
			}
		case <-ss.wake:
			if n = ss.take(dst); n > 0 {
				return n, false, nil
			}
		case <-ss.dead:
			return 0, false, errSessionDead
		case <-ctx.Done():
			return 0, false, ctx.Err()
		}
	}
}

// read waits, as the session's reader, for deliveries (or anything else
// that ends the wait). done is false when the wait should go on.
func (ss *session) read(ctx context.Context, c *consumer, dst []driver.Message) (n int, again, done bool, err error) {
	select {
	case d, ok := <-c.deliveries:
		if !ok {
			return 0, ss.gone(c), true, errSessionDead
		}
		n = ss.handIn(ctx, &d, dst)
	drain:
		for n < len(dst) {
			select {
			case d, ok := <-c.deliveries:
				if !ok {
					break drain // noticed on the next receive
				}
				n += ss.handIn(ctx, &d, dst[n:])
			default:
				break drain
			}
		}
		n += ss.take(dst[n:])
		return n, false, n > 0, nil
	case <-ss.wake:
		n = ss.take(dst)
		return n, false, n > 0, nil
	case <-ss.dead:
		return 0, false, true, errSessionDead
	case <-ctx.Done():
		return 0, false, true, ctx.Err()
	}
}

// gone handles the end of c's deliveries: true if the handle cancelled it
// (start a new one); otherwise the channel died or the broker cancelled
// the consumer (queue deleted), and the session is killed.
func (ss *session) gone(c *consumer) bool {
	if c.cancelled.Load() && ss.alive() {
		return true
	}
	ss.kill()
	return false
}

// consumer returns the running consumer, starting one if needed.
func (ss *session) consumer() (*consumer, error) {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	if ss.cons != nil {
		return ss.cons, nil
	}
	if !ss.alive() {
		return nil, errSessionDead
	}
	tag := "portmq-" + newID()
	ds, err := ss.ch.Consume(ss.sub.queue, tag, false, false, false, false, nil)
	if err != nil {
		return nil, err
	}
	ss.cons = &consumer{tag: tag, deliveries: ds}
	return ss.cons, nil
}

func (ss *session) enter() {
	ss.mu.Lock()
	ss.waiting++
	ss.mu.Unlock()
}

// leave ends a wait. When the last waiting receive gave up (its context
// ended), the consumer is cancelled at once: nobody may read this handle
// again soon, and messages the broker pushes to it would wait here.
func (ss *session) leave(abandoned bool) {
	ss.mu.Lock()
	ss.waiting--
	last := ss.waiting == 0 && ss.idle != nil
	if last {
		// The timer is armed once and moved on by idleFire, not reset on
		// every receive.
		ss.since = time.Now()
		if !abandoned && !ss.armed {
			ss.armed = true
			ss.idle.Reset(ss.sub.opts.IdleCancel)
		}
	}
	ss.mu.Unlock()
	if last && abandoned {
		ss.idleCancel()
	}
}

// idleFire runs on the idle timer: it cancels the consumer if no receive
// has waited for IdleCancel, else waits for the rest of it.
func (ss *session) idleFire() {
	ss.mu.Lock()
	if !ss.alive() || ss.waiting > 0 {
		ss.armed = false // the next leave arms it again
		ss.mu.Unlock()
		return
	}
	if rest := ss.sub.opts.IdleCancel - time.Since(ss.since); rest > 0 {
		ss.idle.Reset(rest)
		ss.mu.Unlock()
		return
	}
	ss.armed = false
	ss.mu.Unlock()
	ss.idleCancel()
}

// idleCancel runs when no receive has waited for IdleCancel (and before
// a message is requeued while none waits): it cancels
// the consumer so that the broker sends new messages to handles that are
// being read. Deliveries that arrived before the cancel stay with the
// session (unacked, not counted as attempts) for the next receive.
func (ss *session) idleCancel() {
	ss.cmu.Lock()
	defer ss.cmu.Unlock()
	ss.mu.Lock()
	busy := ss.waiting > 0
	ss.mu.Unlock()
	c := ss.cons
	if busy || c == nil || !ss.alive() {
		return
	}
	c.cancelled.Store(true)
	ss.cons = nil
	if err := ss.ch.Cancel(c.tag, false); err != nil {
		ss.kill()
		return
	}
	// amqp091-go closes the delivery channel after what arrived before
	// basic.cancel-ok; keep every one of them.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for d := range c.deliveries {
		if e := ss.admit(ctx, &d); e != nil {
			ss.mu.Lock()
			ss.local = append(ss.local, e)
			ss.mu.Unlock()
		}
	}
	ss.signal()
}

// take hands out entries waiting in local.
func (ss *session) take(dst []driver.Message) int {
	ss.mu.Lock()
	n := min(len(dst), len(ss.local))
	for i := range n {
		ss.local[i].handout(&dst[i], ss)
		ss.local[i] = nil
	}
	ss.local = ss.local[n:]
	if len(ss.local) == 0 {
		ss.local = nil
	}
	more := len(ss.local) > 0
	ss.mu.Unlock()
	if more {
		ss.signal() // for another waiting receive
	}
	return n
}

// admit takes in a delivery and returns it to hand out, or nil when the
// session keeps it: parked behind its key on an ordered subscription,
// dropped as an orphaned original (see moved), or dead-lettered because
// it is over max attempts (possible when attempts
// were made before a delayed retry, which the broker's delivery limit does
// not see).
func (ss *session) admit(ctx context.Context, d *amqp.Delivery) *entry {
	s := ss.sub
	if s.orphans.take(d) {
		// Its copy is on its way (a delayed retry or a dead letter): this
		// is the original whose ack a fault lost.
		if err := ss.ch.Ack(d.DeliveryTag, false); err != nil {
			ss.kill()
		}
		return nil
	}
	e := newEntry(d, s.queue)
	if s.opts.MaxAttempts > 0 && e.attempt > s.opts.MaxAttempts {
		_ = s.maxAttemptsReached(ctx, ss, e)
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.unacked[d.DeliveryTag] = e
	if s.opts.Ordered && e.key != "" {
		if !ss.keys.Claim(e.key, e) {
			return nil // parked behind its key's owner
		}
		e.owner = true
	}
	return e
}

// handIn admits d and hands it out into dst[0]; it returns how many it
// handed out (0 or 1).
func (ss *session) handIn(ctx context.Context, d *amqp.Delivery, dst []driver.Message) int {
	e := ss.admit(ctx, d)
	if e == nil {
		return 0
	}
	e.handout(&dst[0], ss)
	return 1
}

// release lets the next parked message of e's key out, once e (which
// holds the key) is settled for good: acked or dead-lettered.
func (ss *session) release(e *entry) {
	if !e.owner {
		return
	}
	ss.mu.Lock()
	next, ok := ss.keys.Done(e.key, e)
	if !ok {
		ss.mu.Unlock()
		return
	}
	next.owner = true
	ss.local = append(ss.local, next)
	ss.mu.Unlock()
	ss.signal()
}

// redeliver hands an ordered subscription's nacked message out again
// from the handle: it keeps its place ahead of later messages of its key
// (which stay parked), and counts one more attempt.
func (ss *session) redeliver(e *entry) {
	ss.mu.Lock()
	e.handouts++
	e.attempt++
	ss.unacked[e.d.DeliveryTag] = e
	ss.local = append(ss.local, e)
	ss.mu.Unlock()
	ss.signal()
}

// redeliverAfter is redeliver after delay; the message stays unacked (and
// its key blocked) meanwhile.
func (ss *session) redeliverAfter(e *entry, delay time.Duration) {
	ss.mu.Lock()
	e.handouts++ // the old AckID is stale from now on
	ss.unacked[e.d.DeliveryTag] = e
	ss.mu.Unlock()
	time.AfterFunc(delay, func() {
		if !ss.alive() {
			return
		}
		ss.mu.Lock()
		e.attempt++
		ss.local = append(ss.local, e)
		ss.mu.Unlock()
		ss.signal()
	})
}
