package memdriver

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/internal/heapq"
	"github.com/portmq/portmq/internal/keyhold"
	"github.com/portmq/portmq/mq/driver"
)

// farFuture is the lease deadline of deliveries to handles that emulate the
// lease: they never expire.
var farFuture = time.Unix(math.MaxInt64/2, 0)

// subscription is one shared queue. Everything below mu is guarded by it.
// Lock order: Engine.mu, then subscription.mu, then the clock's lock;
// dead letters are published only after mu is released.
type subscription struct {
	eng         *Engine
	t           *topic
	name        string
	full        string // "topic/subscription"
	lease       time.Duration
	maxAttempts int
	dlq         string // dead-letter topic; "" for none
	ordered     bool
	retention   time.Duration
	onTimer     func()

	mu       sync.Mutex
	deleted  bool
	pool     entryPool
	ready    ring
	delayed  heapq.Heap[*entry] // newTimeHeap
	leased   leaseSet
	keys     keyhold.Hold[*entry] // busy keys of an ordered subscription
	retained []*entry
	pruneAt  int
	waiters  []*waiter
	wake     [4]*waiter // woken waiters to signal once mu is released
	nwake    int
	spare    []*waiter
	timer    clock.Timer
	timerAt  time.Time        // when timer fires; zero when idle
	dead     []driver.Message // dead letters to publish once mu is released
}

func newSubscription(e *Engine, t *topic, name string, cfg driver.SubscriptionConfig) *subscription {
	s := &subscription{
		eng:         e,
		t:           t,
		name:        name,
		full:        t.name + "/" + name,
		lease:       cfg.Lease,
		maxAttempts: cfg.MaxAttempts,
		dlq:         cfg.DeadLetterTopic,
		ordered:     cfg.Ordered,
		retention:   cfg.Retention,
		pruneAt:     pruneMin,
	}
	if s.lease == 0 {
		s.lease = DefaultLease
	}
	if s.dlq == "" && s.maxAttempts > 0 {
		s.dlq = t.name + "." + name + ".dlq"
	}
	s.delayed, s.leased.heap = newTimeHeap(), newTimeHeap()
	s.onTimer = s.fire
	return s
}

// conflicts returns a FailedPrecondition error if cfg sets a value that
// differs from s's.
func (s *subscription) conflicts(c driver.SubscriptionConfig) error {
	var what, have, want string
	switch {
	case c.Lease != 0 && c.Lease != s.lease:
		what, have, want = "visibility", s.lease.String(), c.Lease.String()
	case c.MaxAttempts != 0 && c.MaxAttempts != s.maxAttempts:
		what, have, want = "max_attempts", strconv.Itoa(s.maxAttempts), strconv.Itoa(c.MaxAttempts)
	case c.DeadLetterTopic != "" && c.DeadLetterTopic != s.dlq:
		what, have, want = "dead_letter", strconv.Quote(s.dlq), strconv.Quote(c.DeadLetterTopic)
	case c.Ordered && !s.ordered:
		what, have, want = "ordered", "false", "true"
	case c.Retention != 0 && c.Retention != s.retention:
		what, have, want = "retention", s.retention.String(), c.Retention.String()
	default:
		return nil
	}
	return driver.NewError(driver.FailedPrecondition, "memdriver: subscription "+s.full+" exists with "+what+"="+have+", not "+want)
}

// instant is the current time of one call, read from the clock at most
// once and only if needed: reading the clock is a large part of the cost of
// a message.
type instant struct {
	c  clock.Clock
	t  time.Time
	ok bool
}

func (i *instant) now() time.Time {
	if !i.ok {
		i.t, i.ok = i.c.Now(), true
	}
	return i.t
}

// enqueue appends freshly sent messages. No lock is held by the caller.
func (s *subscription) enqueue(recs []sendRec, now time.Time) {
	at := instant{t: now, ok: true}
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return
	}
	for i := range recs {
		r := &recs[i]
		e := s.pool.get(s)
		e.seq, e.id, e.body, e.attrs = r.seq, r.id, r.body, r.attrs
		e.key, e.dedupID, e.published = r.key, r.dedupID, now
		var due time.Time
		if r.delay > 0 {
			due = now.Add(r.delay)
		}
		s.admit(e, &at, due)
	}
	s.arm(&at)
	s.unlock()
}

// admit queues a new (or replayed) entry behind its key on an ordered
// subscription, else makes it available at due.
func (s *subscription) admit(e *entry, at *instant, due time.Time) {
	if s.ordered && e.key != "" && s.waitKey(e, due) {
		return
	}
	s.makeAvailable(e, at, due)
}

// makeAvailable puts e in delayed if due is after now, else in ready,
// waking a waiting receiver. A zero due means now.
func (s *subscription) makeAvailable(e *entry, at *instant, due time.Time) {
	e.h = nil
	if !due.IsZero() && due.After(at.now()) {
		e.state = stDelayed
		e.at = due
		s.delayed.Push(e)
		return
	}
	e.state = stReady
	e.at = time.Time{}
	s.ready.push(e)
	s.wakeOne()
}

// advance moves due delayed entries to ready and expires ended leases.
// The timer does it on time; ReceiveBatch does it too, in case the timer
// is late.
func (s *subscription) advance(at *instant) {
	for s.delayed.Len() > 0 {
		e := s.delayed.Peek()
		if e.at.After(at.now()) {
			break
		}
		s.delayed.Remove(e.idx)
		s.makeAvailable(e, at, time.Time{})
	}
	for {
		e := s.leased.min()
		if e == nil || e.at.After(at.now()) {
			break
		}
		s.leased.remove(e)
		s.fail(e, at, 0, reasonExpired)
	}
}

// take leases up to len(dst) ready entries to h.
func (s *subscription) take(h *subHandle, at *instant, dst []driver.Message) int {
	if s.ready.len() == 0 {
		return 0
	}
	n := 0
	deadline := farFuture
	if h.emu&EmulateLease == 0 {
		deadline = at.now().Add(s.lease)
	}
	for n < len(dst) && s.ready.len() > 0 {
		e := s.ready.pop()
		e.attempts++
		e.gen++
		e.state = stLeased
		e.h = h
		e.at = deadline
		s.leased.add(e)
		m := &dst[n]
		*m = driver.Message{
			ID:          e.id,
			Body:        e.body,
			Attributes:  e.attrs,
			Key:         e.key,
			DedupID:     e.dedupID,
			PublishedAt: e.published,
			AckID:       driver.AckID{Ref: e, Seq: e.gen},
			Attempt:     e.attempts,
		}
		if deadline != farFuture {
			m.Deadline = deadline
		}
		n++
	}
	return n
}

// lookup returns the leased entry id names, or nil if it is unknown, stale
// or expired. A lease that ended is expired once the timer (or a
// ReceiveBatch) saw it end: with a clock.Fake that is exactly at its
// deadline.
func (s *subscription) lookup(id driver.AckID) *entry {
	e, ok := id.Ref.(*entry)
	if !ok || e == nil || e.s != s || e.state != stLeased || e.gen != id.Seq {
		return nil
	}
	return e
}

// ack settles leased entry e for good.
func (s *subscription) ack(e *entry, at *instant) {
	s.leased.remove(e)
	s.releaseKey(e, at)
	if s.retention > 0 {
		e.state = stRetained
		e.h = nil
		s.retained = append(s.retained, e)
		if len(s.retained) >= s.pruneAt {
			s.prune(at.now())
			s.pruneAt = max(pruneMin, 2*len(s.retained))
		}
		return
	}
	s.pool.put(e)
}

// failure reasons
const (
	reasonNack    = 0
	reasonExpired = 1
	reasonClosed  = 2
)

// fail handles a delivery that ended without ack (e is out of leased):
// dead-letter it at max attempts, else make it available after delay.
func (s *subscription) fail(e *entry, at *instant, delay time.Duration, reason int) {
	if s.maxAttempts > 0 && e.attempts >= s.maxAttempts && s.dlq != "" &&
		(e.h == nil || e.h.emu&EmulateDeadLetter == 0) {
		var why string
		n := strconv.Itoa(s.maxAttempts)
		switch reason {
		case reasonNack:
			why = "max attempts (" + n + ") reached"
		case reasonExpired:
			why = "lease expired after max attempts (" + n + ")"
		default:
			why = "handle closed after max attempts (" + n + ")"
		}
		s.deadLetter(e, at, why)
		return
	}
	var due time.Time
	if delay > 0 {
		due = at.now().Add(delay)
	}
	s.makeAvailable(e, at, due)
}

// arm makes sure the timer fires by the earliest due time or lease end.
func (s *subscription) arm(at *instant) {
	var next time.Time
	if s.delayed.Len() > 0 {
		next = s.delayed.Peek().at
	}
	if e := s.leased.min(); e != nil {
		if l := e.at; l != farFuture && (next.IsZero() || l.Before(next)) {
			next = l
		}
	}
	if next.IsZero() || (!s.timerAt.IsZero() && !next.Before(s.timerAt)) {
		return
	}
	s.timerAt = next
	d := next.Sub(at.now())
	if s.timer == nil {
		s.timer = s.eng.clk.AfterFunc(d, s.onTimer)
	} else {
		s.timer.Reset(d)
	}
}

// fire is the timer's callback.
func (s *subscription) fire() {
	s.mu.Lock()
	s.timerAt = time.Time{}
	if s.deleted {
		s.mu.Unlock()
		return
	}
	at := s.instant()
	s.advance(&at)
	s.arm(&at)
	s.unlock()
}

func (s *subscription) instant() instant {
	return instant{c: s.eng.clk}
}

// unlock releases mu, then wakes the receivers chosen under it and
// publishes pending dead letters.
func (s *subscription) unlock() {
	dead := s.dead
	s.dead = nil
	var wake [len(s.wake)]*waiter
	n := s.nwake
	copy(wake[:n], s.wake[:n])
	clear(s.wake[:n])
	s.nwake = 0
	s.mu.Unlock()
	for _, w := range wake[:n] {
		w.signal()
	}
	if len(dead) > 0 {
		s.eng.publishDeadLetters(s.dlq, dead)
	}
}

// markDeleted drops the subscription's messages and wakes every waiter;
// later calls on its handles fail with code NotFound.
func (s *subscription) markDeleted() {
	s.mu.Lock()
	defer s.unlock()
	s.deleted = true
	s.dead = nil // never publish under the caller's Engine.mu
	if s.timer != nil {
		s.timer.Stop()
	}
	s.ready = ring{}
	s.delayed, s.leased, s.retained = newTimeHeap(), leaseSet{heap: newTimeHeap()}, nil
	s.keys.Reset()
	for len(s.waiters) > 0 {
		s.wakeOne()
	}
}

// waiter is one blocked ReceiveBatch call.
type waiter struct {
	ch     chan struct{} // capacity 1
	queued bool
}

func (s *subscription) addWaiter() *waiter {
	var w *waiter
	if n := len(s.spare); n > 0 {
		w = s.spare[n-1]
		s.spare = s.spare[:n-1]
	} else {
		w = &waiter{ch: make(chan struct{}, 1)}
	}
	w.queued = true
	s.waiters = append(s.waiters, w)
	return w
}

// dropWaiter takes w out of the queue (or drains its wake-up) and keeps it
// for reuse.
func (s *subscription) dropWaiter(w *waiter) {
	if w.queued {
		for i, x := range s.waiters {
			if x == w {
				last := len(s.waiters) - 1
				copy(s.waiters[i:], s.waiters[i+1:])
				s.waiters[last] = nil
				s.waiters = s.waiters[:last]
				break
			}
		}
		w.queued = false
	}
	select {
	case <-w.ch:
	default:
	}
	s.spare = append(s.spare, w)
}

// wakeOne wakes the longest-waiting receiver, if any.
func (s *subscription) wakeOne() {
	if len(s.waiters) == 0 {
		return
	}
	w := s.waiters[0]
	n := copy(s.waiters, s.waiters[1:])
	s.waiters[n] = nil
	s.waiters = s.waiters[:n]
	w.queued = false
	if s.nwake < len(s.wake) {
		s.wake[s.nwake] = w
		s.nwake++
		return
	}
	w.signal()
}

// signal wakes w's receiver. A signal that arrives after the receiver gave
// up is harmless: it re-checks and waits again.
func (w *waiter) signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}
