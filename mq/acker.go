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

func (a *acker) ack(s *Subscription, d *Delivery) error {
	a.mu.Lock()
	if a.cond.L == nil {
		a.cond.L = &a.mu
	}
	if a.flushing {
		a.pending = append(a.pending, d)
		for d.state.Load() != stateAcked {
			a.cond.Wait()
		}
		err := a.result(d)
		a.mu.Unlock()
		return err
	}
	a.flushing = true
	batch := append(a.batch[:0], d)
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
		if len(batch) > 1 || batch[0] != d {
			a.cond.Broadcast() // someone other than this caller waits
		}
		clear(a.ids)
		if len(a.pending) == 0 {
			clear(batch)
			a.batch = batch[:0]
			break
		}
		clear(batch)
		batch, a.pending = a.pending, batch[:0]
	}
	a.flushing = false
	err := a.result(d)
	a.mu.Unlock()
	return err
}
