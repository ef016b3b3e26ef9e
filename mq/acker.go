package mq

import (
	"sync"

	"github.com/portmq/portmq/mq/driver"
)

// acker batches acks by group commit: the first caller flushes at once;
// callers arriving while a flush runs join the next batch, which the same
// caller flushes right after. A lone consumer pays one driver call per ack
// and no latency; many consumers share driver calls. No goroutine, no timer.
//
// A flushed delivery's state becomes stateAcked; the rare failures wait in
// errs for their caller, so that Delivery carries no error field.
type acker struct {
	mu       sync.Mutex
	cond     sync.Cond
	flushing bool
	pending  []*Delivery
	batch    []*Delivery
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
	if a.flushing {
		// Join the next batch; the flushing caller sends it.
		a.pending = append(a.pending, ds...)
		for _, d := range ds {
			for d.state.Load() != stateAcked {
				a.cond.Wait()
			}
		}
		for i, d := range ds {
			errs[i] = a.result(d)
		}
		a.mu.Unlock()
		return
	}
	a.flushing = true
	batch := append(a.batch[:0], ds...)
	own := true // batch holds only this caller's deliveries
	for {
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
		if !own {
			a.cond.Broadcast()
		}
		clear(a.ids)
		if len(a.pending) == 0 {
			clear(batch)
			a.batch = batch[:0]
			break
		}
		clear(batch)
		batch, a.pending = a.pending, batch[:0]
		own = false
	}
	a.flushing = false
	for i, d := range ds {
		errs[i] = a.result(d)
	}
	a.mu.Unlock()
}
