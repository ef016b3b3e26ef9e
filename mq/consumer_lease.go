package mq

import (
	"context"
	"time"

	"github.com/portmq/portmq/clock"
)

// The Consumer's lease keeping: the leases of held deliveries are
// extended while their handlers run, and handed back when it stops.

func (c *Consumer) track(d *Delivery) {
	c.mu.Lock()
	c.inflight[d] = c.clk.Now()
	c.mu.Unlock()
}

func (c *Consumer) untrack(d *Delivery) {
	c.mu.Lock()
	delete(c.inflight, d)
	c.mu.Unlock()
}

// keepLeases extends the lease of every delivery held by the Consumer
// (running or queued behind its key) before it ends, up to maxExtension.
func (c *Consumer) keepLeases(stop <-chan struct{}) {
	lease := c.sub.info.Lease
	// Check every quarter lease and extend what has less than three
	// quarters left, so that an extension starts with at least half a lease
	// to spare: a slow backend (seconds to apply a visibility change) must
	// not see the lease end first.
	every := max(lease/4, 10*time.Millisecond)
	var batch []*Delivery
	// Visits keep to a grid, as with a time.Ticker: a visit that took long
	// (extending during an outage) is followed by the next at once, and
	// the ticks missed meanwhile are dropped.
	next := c.clk.Now()
	for {
		next = next.Add(every)
		if clock.Sleep(context.Background(), c.clk, next.Sub(c.clk.Now()), stop) != nil {
			return
		}
		now := c.clk.Now()
		if late := now.Sub(next); late >= every {
			next = next.Add(late / every * every)
		}
		batch = batch[:0]
		c.mu.Lock()
		for d, since := range c.inflight {
			dl := d.Deadline()
			if now.Sub(since) < c.cfg.maxExtension && (dl.IsZero() || dl.Sub(now) < lease/2+every) {
				batch = append(batch, d)
			}
		}
		c.mu.Unlock()
		if len(batch) > 0 {
			c.sub.extendMany(batch, lease)
		}
	}
}

// returnUnfinished nacks (without delay) every delivery still held, so the
// backend can hand it to another consumer at once.
func (c *Consumer) returnUnfinished() {
	c.mu.Lock()
	ds := make([]*Delivery, 0, len(c.inflight))
	for d := range c.inflight {
		ds = append(ds, d)
	}
	c.mu.Unlock()
	for _, d := range ds {
		_ = d.Nack(0) // ErrSettled if its handler finished meanwhile
	}
}
