package mq

import (
	"sync"

	"github.com/portmq/portmq/mq/driver"
)

// acker batches acks by group commit: the first caller flushes at once;
// callers arriving while a flush runs join the next batch, which the same
// caller flushes right after. A lone consumer pays one driver call per ack
// and no latency; many consumers share driver calls. No goroutine, no timer.
type acker struct {
	mu       sync.Mutex
	cond     sync.Cond
	flushing bool
	pending  []*Delivery
	batch    []*Delivery
	ids      []driver.AckID
}

func (a *acker) ack(s *Subscription, d *Delivery) error {
	a.mu.Lock()
	if a.cond.L == nil {
		a.cond.L = &a.mu
	}
	if a.flushing {
		a.pending = append(a.pending, d)
		for !d.ackDone {
			a.cond.Wait()
		}
		err := d.ackErr
		d.ackErr = nil
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
				x.ackErr = wrapDriver(s.d, "mq.Delivery.Ack", ierr)
			}
			x.ackDone = true
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
	err := d.ackErr
	d.ackErr = nil
	a.mu.Unlock()
	return err
}
