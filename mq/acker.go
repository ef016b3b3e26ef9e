package mq

import (
	"sync"

	"github.com/portmq/portmq/mq/driver"
)

// acker batches acks by group commit: a caller that finds no flush running
// sends everything queued, its own acks included; callers arriving while a
// flush runs queue theirs and wait. When a flush ends, a waiting caller whose
// acks are still queued takes over and sends them, so that no caller waits
// for more than its own batch and the one before it. A lone consumer pays
// one driver call per ack and no latency; many consumers share driver calls.
// No goroutine, no timer.
//
// A flushed delivery's state becomes stateAcked; the rare failures wait in
// errs for their caller, so that Delivery carries no error field.
type acker struct {
	mu       sync.Mutex
	cond     sync.Cond
	flushing bool
	waiting  int // callers blocked in cond.Wait
	pending  []*Delivery
	spare    []*Delivery
	ids      []driver.AckID
	errs     map[*Delivery]error
}

// result takes d's flush result; a.mu is held.
func (a *acker) result(d *Delivery) error {
	if len(a.errs) == 0 {
		return nil
	}
	err := a.errs[d]
	delete(a.errs, d)
	return err
}

// ack acks d, which the caller settled.
func (a *acker) ack(s *Subscription, d *Delivery) error {
	var errs [1]error
	a.ackAll(s, []*Delivery{d}, errs[:])
	return errs[0]
}

// ackAll acks ds, which the caller settled, and sets errs[i] to the error
// of ds[i].
func (a *acker) ackAll(s *Subscription, ds []*Delivery, errs []error) {
	a.mu.Lock()
	if a.cond.L == nil {
		a.cond.L = &a.mu
	}
	a.pending = append(a.pending, ds...)
	for !acked(ds) {
		if a.flushing {
			a.waiting++
			a.cond.Wait()
			a.waiting--
			continue
		}
		a.flush(s)
	}
	for i, d := range ds {
		errs[i] = a.result(d)
	}
	a.mu.Unlock()
}

// flush sends everything queued in one driver call. a.mu is held (and
// released during the call).
func (a *acker) flush(s *Subscription) {
	a.flushing = true
	batch := a.pending
	a.pending = a.spare[:0]
	ids := a.ids[:0]
	for _, x := range batch {
		ids = append(ids, x.ackID)
	}
	a.ids = ids
	a.mu.Unlock()
	err := s.d.Ack(s.opCtx, ids)
	a.mu.Lock()
	for i, x := range batch {
		if ierr := driver.ItemError(err, i); ierr != nil {
			if a.errs == nil {
				a.errs = make(map[*Delivery]error)
			}
			a.errs[x] = wrapDriver(s.d, "mq.Delivery.Ack", ierr)
		}
		x.state.Store(stateAcked)
	}
	clear(a.ids)
	clear(batch)
	a.spare = batch[:0]
	a.flushing = false
	if a.waiting > 0 {
		// Their acks are done, or one of them sends the next batch.
		a.cond.Broadcast()
	}
}

func acked(ds []*Delivery) bool {
	for _, d := range ds {
		if d.state.Load() != stateAcked {
			return false
		}
	}
	return true
}
