package mq

import (
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// The buffer keeper looks after prefetched messages of a backend with a
// lease (native or kept by the driver): their leases run while they wait in
// the Subscription's buffer for a Receive call. Left alone, a slow receive
// loop would let them expire there, and every expiry costs the message a
// delivery attempt (and, at the subscription's max attempts, sends it to
// the dead-letter destination unseen). So when half of the oldest buffered
// lease is gone, the keeper extends the leases of all buffered messages in
// one driver call; and when nobody has received from the buffer for two
// leases (idleVisits visits, one every half lease), it hands the whole
// buffer back (Nack 0) so that other consumers can have the messages. It is one timer, armed by a fetch that
// leaves messages waiting and disarmed when it finds the buffer empty, so a
// consumer that keeps up pays nothing for it.

// idleVisits is how many visits in a row without a Receive taking from the
// buffer make the keeper hand the buffer back.
const idleVisits = 4

// armKeeper arms the keeper for the buffered lease that ends first. s.mu
// is held.
func (s *Subscription) armKeeper(now time.Time) {
	if !s.keepBuffer || s.keeperArmed {
		return
	}
	var dl time.Time
	for _, m := range s.buf[s.head:] {
		if !m.Deadline.IsZero() && (dl.IsZero() || m.Deadline.Before(dl)) {
			dl = m.Deadline
		}
	}
	if dl.IsZero() {
		return // empty, or the driver does not say when leases end
	}
	wait := max(dl.Sub(now)-s.info.Lease/2, 0)
	s.keeperArmed = true
	if s.keeper == nil {
		s.keeper = s.clk.AfterFunc(wait, s.keep)
		return
	}
	s.keeper.Reset(wait)
}

// keep runs in the keeper's timer goroutine.
func (s *Subscription) keep() {
	if !s.gate.enter() {
		return
	}
	defer s.gate.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keeperArmed = false
	if s.head == len(s.buf) {
		s.keeperIdle = 0
		return
	}
	if s.popped {
		s.keeperIdle = 0
	} else {
		s.keeperIdle++
	}
	s.popped = false
	if s.keeperIdle >= idleVisits {
		// Nothing was received for two leases: give the messages back.
		ids := make([]driver.AckID, 0, len(s.buf)-s.head)
		for _, m := range s.buf[s.head:] {
			ids = append(ids, m.AckID)
		}
		clear(s.buf)
		s.buf, s.head = s.buf[:0], 0
		s.keeperIdle = 0
		_ = s.d.Nack(s.opCtx, ids, 0) // what fails here is redelivered at its lease end
		return
	}
	now := s.now()
	lease := s.info.Lease
	if s.caps.MaxLease > 0 && lease > s.caps.MaxLease {
		lease = s.caps.MaxLease
	}
	// Extend every buffered lease, so that the next visit is half a lease
	// away for all of them.
	var ids []driver.AckID
	var at []int
	for i := s.head; i < len(s.buf); i++ {
		dl := s.buf[i].Deadline
		if dl.IsZero() || !now.Before(dl) {
			continue // unknown, or already over (pop drops it)
		}
		ids = append(ids, s.buf[i].AckID)
		at = append(at, i)
	}
	if len(ids) > 0 && s.ext != nil {
		err := s.ext.Extend(s.opCtx, ids, lease)
		until := now.Add(lease)
		for j, i := range at {
			if driver.ItemError(err, j) == nil {
				s.buf[i].Deadline = until
			}
		}
	}
	s.armKeeper(now)
}
