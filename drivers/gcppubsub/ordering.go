package gcppubsub

import (
	"context"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// One delivery per ordering key in flight.
//
// On an ordered subscription Pub/Sub delivers a key's messages in order,
// but may hand out several of them at once (pstest hands out one at a
// time). The contract wants one in flight per key, a nacked message
// holding back the later ones of its key. So on an ordered subscription
// the handle gives out the first ready message of a key and holds the
// later ones until that delivery is acked, extending their deadlines while
// they wait. When it is nacked, or its lease ends, Pub/Sub delivers it
// again and then the later ones of its key: the handle hands the held ones
// back at once instead of letting them overtake it.
//
// This is not internal/keyhold.Hold: held messages stay in the ready list,
// where the sweep tends their leases in order with every other key's, and
// a nack or a lapsed lease sends all of a key's held messages back to
// Pub/Sub at once instead of handing the key on to the next one.

const (
	keyHeld    uint8 = 1 // the key is in flight: later messages wait
	keyDropped uint8 = 2 // an earlier message went back: later ones go back too
)

// sweepLocked walks the ready messages in order. With dst it hands out
// those that may go into dst and returns how many; without, it only tends
// them (the timer). Messages with too little lease left go to back, and
// on an ordered subscription with them every later message of their key;
// held messages low on lease go to extend (timer only).
func (r *receiver) sweepLocked(dst []driver.Message, back, extend *[]*delivery) int {
	now := time.Now()
	limit := now.Add(r.s.staleMargin()).UnixNano()
	var keys map[string]uint8
	mark := func(k string, st uint8) {
		if keys == nil {
			keys = make(map[string]uint8)
		}
		keys[k] = st
	}
	n := 0
	keep := r.ready[:0]
	for _, m := range r.ready {
		d := m.AckID.Ref.(*delivery)
		k, st := d.key, uint8(0)
		if k != "" {
			if st = keys[k]; st == 0 {
				st = r.headLocked(k, now)
			}
		}
		low := d.deadline.Load() < limit
		switch {
		case st == keyDropped:
			*back = append(*back, d)
			continue
		case st == keyHeld:
			if low && extend != nil {
				*extend = append(*extend, d)
			}
		case low:
			*back = append(*back, d)
			if k != "" {
				mark(k, keyDropped)
			}
			continue
		case dst != nil && n < len(dst):
			m.Deadline = time.Unix(0, d.deadline.Load()) // it may have been extended
			dst[n] = m
			n++
			if k != "" {
				r.busy[k] = d
				mark(k, keyHeld)
			}
			continue
		}
		keep = append(keep, m)
	}
	clear(r.ready[len(keep):])
	r.ready = keep
	return n
}

// headLocked says whether key k has a delivery in flight (keyHeld), had
// one whose lease ended (keyDropped: it comes back before the later
// ones), or neither (0).
func (r *receiver) headLocked(k string, now time.Time) uint8 {
	h := r.busy[k]
	switch {
	case h == nil:
		return 0
	case h.settled.Load(): // being settled: release decides
		return keyHeld
	case now.UnixNano() >= h.deadline.Load():
		delete(r.busy, k)
		return keyDropped
	}
	return keyHeld
}

// release ends d's turn as its key's delivery in flight: acked, the next
// message of the key may go; otherwise the held ones go back.
func (r *receiver) release(d *delivery, acked bool) {
	var back []*delivery
	r.mu.Lock()
	if r.busy[d.key] != d {
		r.mu.Unlock()
		return
	}
	delete(r.busy, d.key)
	if !acked {
		keep := r.ready[:0]
		for _, m := range r.ready {
			if h := m.AckID.Ref.(*delivery); h.key == d.key {
				back = append(back, h)
			} else {
				keep = append(keep, m)
			}
		}
		clear(r.ready[len(keep):])
		r.ready = keep
	}
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
	r.nackStale(back)
}

// extendHeld pushes the deadlines of held messages by a lease.
func (r *receiver) extendHeld(held []*delivery) {
	if len(held) == 0 {
		return
	}
	ackIDs := make([]string, len(held))
	for i, d := range held {
		ackIDs[i] = d.ackID
	}
	secs := seconds(r.s.set.lease)
	sent := time.Now()
	ctx, cancel := context.WithTimeout(r.ctx, closeTimeout)
	defer cancel()
	if r.s.modack(ctx, ackIDs, secs) != nil {
		return // they run out and are nacked or come back
	}
	until := sent.Add(time.Duration(secs) * time.Second).UnixNano()
	for _, d := range held {
		d.deadline.Store(until)
	}
}

// releaseKeys ends the turns of the keyed deliveries a settling call
// settled.
func (s *subscription) releaseKeys(c *claimed, acked bool) {
	for _, k := range c.keyed {
		s.recv.release(k.d, acked && (c.errs == nil || c.errs[k.i] == nil))
	}
}
