package mq

import (
	"sync"
	"time"

	"github.com/portmq/portmq/internal/heapq"
	"github.com/portmq/portmq/mq/driver"
)

// emulator keeps, for a backend that lacks them, the lease of handed-out
// deliveries (nacking at its end), delayed nacks (holding the delivery and
// nacking when due) and delayed delivery (holding a received message until
// its due time). One goroutine per Subscription, started on first need and
// stopped by Shutdown. While it holds a delivery on a backend with a native
// lease it keeps extending that lease.
type emulator struct {
	s *Subscription

	mu sync.Mutex
	// Handed-out deliveries with an emulated lease. They start with the
	// subscription's one lease, so hand-out order is deadline order: fifo
	// holds them in that order (O(1) to add and to drop on settling), and
	// only deliveries whose lease was extended move to the heap leases.
	fifo     []*Delivery // fifo[fifoHead:]; entries with leaseIdx != inFIFO are dropped lazily
	fifoHead int
	fifoDead int                   // entries of fifo[fifoHead:] no longer in it
	leases   heapq.Heap[*Delivery] // by deadline; Delivery.leaseIdx is the index
	holds    heapq.Heap[*hold]     // deliveries mq holds back, by next()
	watch_   map[*func()]struct{}
	stopped  bool
	wakeAt   time.Time // when the goroutine's timer fires next; zero before its first step

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

type hold struct {
	m        driver.Message // the delivery
	due      time.Time
	nack     bool      // nack when due (else hand out)
	extendAt time.Time // when to extend the native lease next
	idx      int
}

func (s *Subscription) emulator() *emulator {
	s.emuOnce.Do(func() {
		e := &emulator{s: s, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), watch_: map[*func()]struct{}{}}
		e.leases = heapq.New(leaseBefore, setLeaseIdx)
		e.holds = heapq.New(holdBefore, setHoldIdx)
		s.emu = e
		go e.run()
	})
	return s.emu
}

func (e *emulator) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// watch registers a function called when a held delivery becomes due, so
// that a Receive blocked in the driver wakes up. It returns the unregister
// function.
func (e *emulator) watch(f func()) func() {
	p := &f
	e.mu.Lock()
	e.watch_[p] = struct{}{}
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		delete(e.watch_, p)
		e.mu.Unlock()
	}
}

// inFIFO is Delivery.leaseIdx of a delivery in emulator.fifo.
const inFIFO = -2

// trackLeases keeps the leases of ds, all ending at until.
func (e *emulator) trackLeases(ds []Delivery, until time.Time) {
	ns := until.UnixNano()
	for i := range ds {
		ds[i].deadline.Store(ns)
	}
	e.mu.Lock()
	for i := range ds {
		ds[i].leaseIdx = inFIFO
		e.fifo = append(e.fifo, &ds[i])
	}
	// Wake the goroutine only when its timer would fire too late: in a
	// steady stream every new lease ends after the one it is armed for.
	early := e.wakeAt.IsZero() || until.Before(e.wakeAt)
	e.mu.Unlock()
	if early {
		e.poke()
	}
}

func (e *emulator) untrackLease(d *Delivery) {
	e.mu.Lock()
	e.untrack(d)
	e.mu.Unlock()
}

// untrack stops keeping d's lease; e.mu is held.
func (e *emulator) untrack(d *Delivery) {
	switch {
	case d.leaseIdx == inFIFO:
		d.leaseIdx = -1
		e.fifoDead++
		if live := len(e.fifo) - e.fifoHead - e.fifoDead; e.fifoDead > 256 && e.fifoDead > live {
			e.compact()
		}
	case d.leaseIdx >= 0 && int(d.leaseIdx) < e.leases.Len() && e.leases.At(int(d.leaseIdx)) == d:
		e.leases.Remove(int(d.leaseIdx))
	}
}

// compact drops the settled entries of fifo (amortized O(1) per delivery,
// and fifo never holds more than twice the outstanding deliveries).
func (e *emulator) compact() {
	live := e.fifo[:0]
	for _, d := range e.fifo[e.fifoHead:] {
		if d.leaseIdx == inFIFO {
			live = append(live, d)
		}
	}
	clear(e.fifo[len(live):])
	e.fifo, e.fifoHead, e.fifoDead = live, 0, 0
}

// extendLease moves an emulated lease; false if it already ended.
func (e *emulator) extendLease(d *Delivery, until time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if d.state.Load() != stateOutstanding {
		return false
	}
	if d.leaseIdx == inFIFO {
		// Out of hand-out order now: into the heap.
		e.untrack(d)
		d.deadline.Store(until.UnixNano())
		e.leases.Push(d)
		return true
	}
	if d.leaseIdx < 0 || int(d.leaseIdx) >= e.leases.Len() || e.leases.At(int(d.leaseIdx)) != d {
		return false
	}
	d.deadline.Store(until.UnixNano())
	e.leases.Fix(int(d.leaseIdx))
	return true
}

func (e *emulator) holdNack(id driver.AckID, attempt int, due time.Time) error {
	return e.add(&hold{m: driver.Message{AckID: id, Attempt: attempt}, due: due, nack: true})
}

func (e *emulator) holdDelivery(m driver.Message, due time.Time) {
	_ = e.add(&hold{m: m, due: due})
}

func (e *emulator) add(h *hold) error {
	if e.s.caps.Lease.Has() {
		// Extend at once, then every half lease, until due.
		h.extendAt = e.s.now()
	}
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return e.s.d.Nack(e.s.opCtx, []driver.AckID{h.m.AckID}, 0)
	}
	e.holds.Push(h)
	e.mu.Unlock()
	e.poke()
	return nil
}

func (e *emulator) run() {
	defer close(e.done)
	// The timer pokes, as every change of what is due does.
	t := e.s.clk.AfterFunc(time.Hour, e.poke)
	defer t.Stop()
	for {
		next := e.step()
		if next > 0 {
			t.Reset(next)
		}
		select {
		case <-e.quit:
			return
		case <-e.kick:
		}
	}
}

// step does what is due and returns how long until the next thing is.
func (e *emulator) step() time.Duration {
	s := e.s
	now := s.now()
	var expired, nacks, extend []driver.AckID
	var expiredD []*Delivery // for the observer
	var ready []driver.Message
	var wake []func()
	next := time.Hour

	e.mu.Lock()
	for e.fifoHead < len(e.fifo) {
		d := e.fifo[e.fifoHead]
		if d.leaseIdx != inFIFO {
			e.fifo[e.fifoHead] = nil
			e.fifoHead++
			e.fifoDead--
			continue
		}
		until := time.Unix(0, d.deadline.Load())
		if until.After(now) {
			next = min(next, until.Sub(now))
			break
		}
		e.fifo[e.fifoHead] = nil
		e.fifoHead++
		d.leaseIdx = -1
		if d.state.CompareAndSwap(stateOutstanding, stateExpired) {
			expired = append(expired, d.ackID)
			if s.obs != nil {
				expiredD = append(expiredD, d)
			}
		}
	}
	if e.fifoHead == len(e.fifo) {
		e.fifo, e.fifoHead = e.fifo[:0], 0
	} else if e.fifoHead > len(e.fifo)/2 {
		n := copy(e.fifo, e.fifo[e.fifoHead:])
		clear(e.fifo[n:])
		e.fifo, e.fifoHead = e.fifo[:n], 0
	}
	for e.leases.Len() > 0 {
		d := e.leases.Peek()
		until := time.Unix(0, d.deadline.Load())
		if until.After(now) {
			next = min(next, until.Sub(now))
			break
		}
		e.leases.Pop()
		if d.state.CompareAndSwap(stateOutstanding, stateExpired) {
			expired = append(expired, d.ackID)
			if s.obs != nil {
				expiredD = append(expiredD, d)
			}
		}
	}
	for e.holds.Len() > 0 {
		h := e.holds.Peek()
		if at := h.next(); at.After(now) {
			next = min(next, at.Sub(now))
			break
		}
		if !h.due.After(now) {
			e.holds.Pop()
			if h.nack {
				nacks = append(nacks, h.m.AckID)
			} else {
				ready = append(ready, h.m)
			}
			continue
		}
		extend = append(extend, h.m.AckID)
		h.extendAt = now.Add(s.info.Lease / 2)
		e.holds.Fix(0)
	}
	e.wakeAt = now.Add(next)
	e.mu.Unlock()

	if len(expired) > 0 {
		e.nackOrRetry(expired, now)
		for _, d := range expiredD {
			s.obs.Settled(d, Settlement{Op: SettleExpired, Emulated: true, Start: now})
		}
	}
	if len(nacks) > 0 {
		e.nackOrRetry(nacks, now)
	}
	if len(extend) > 0 && s.ext != nil {
		_ = s.ext.Extend(s.opCtx, extend, s.info.Lease)
	}
	if len(ready) > 0 {
		for i := range ready {
			ready[i].Deadline = time.Time{} // we kept it alive; do not drop it
		}
		s.mu.Lock()
		s.buf = append(s.buf, ready...)
		s.mu.Unlock()
		// Collect watchers after the append: a Receive that registered
		// before this point is woken; one that registers after it sees the
		// buffer (fetch checks it after registering).
		e.mu.Lock()
		for p := range e.watch_ {
			wake = append(wake, *p)
		}
		e.mu.Unlock()
		for _, f := range wake {
			f()
		}
	}
	return next
}

// nackOrRetry hands deliveries back to the backend. Those it could not
// hand back because the backend was unreachable are held and handed back
// again after a pause: when mq keeps the lease, nothing else would ever
// return them, and an outage would strand them.
func (e *emulator) nackOrRetry(ids []driver.AckID, now time.Time) {
	err := e.s.d.Nack(e.s.opCtx, ids, 0)
	if err == nil {
		return
	}
	due := now.Add(reconnectBackoff.Delay(1))
	for i, id := range ids {
		if ierr := driver.ItemError(err, i); ierr != nil && isConnectionLoss(wrapDriver(e.s.d, "", ierr)) {
			_ = e.add(&hold{m: driver.Message{AckID: id}, due: due, nack: true})
		}
	}
}

// stop ends the goroutine and returns the AckIDs of every delivery the
// emulator held or leased, for Shutdown to hand back at once.
func (e *emulator) stop() []driver.AckID {
	e.mu.Lock()
	e.stopped = true
	var ids []driver.AckID
	for _, d := range e.fifo[e.fifoHead:] {
		if d.leaseIdx == inFIFO && d.state.CompareAndSwap(stateOutstanding, stateExpired) {
			ids = append(ids, d.ackID)
		}
	}
	e.fifo, e.fifoHead, e.fifoDead = nil, 0, 0
	for _, d := range e.leases.Clear() {
		if d.state.CompareAndSwap(stateOutstanding, stateExpired) {
			ids = append(ids, d.ackID)
		}
	}
	for _, h := range e.holds.Clear() {
		ids = append(ids, h.m.AckID)
	}
	e.mu.Unlock()
	close(e.quit)
	<-e.done
	return ids
}

func leaseBefore(a, b *Delivery) bool { return a.deadline.Load() < b.deadline.Load() }
func setLeaseIdx(d *Delivery, i int)  { d.leaseIdx = int32(i) }
func holdBefore(a, b *hold) bool      { return a.next().Before(b.next()) }
func setHoldIdx(h *hold, i int)       { h.idx = i }

func (h *hold) next() time.Time {
	if !h.extendAt.IsZero() && h.extendAt.Before(h.due) {
		return h.extendAt
	}
	return h.due
}
