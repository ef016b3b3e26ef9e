package kafka

// The entry state machine: where a fetched entry goes (ready, held until
// due, queued behind its key, copied away), and how a delivery ends.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// routeLocked decides what happens to a freshly fetched entry.
func (s *subscription) routeLocked(e *entry, now int64) {
	if redeliver.Exhausted(e.attempt-1, s.o.MaxAttempts) {
		// Delivered MaxAttempts times already (the broker counted
		// deliveries we never saw fail, or the limit was lowered).
		s.copyAsyncLocked(e, true, redeliver.MaxAttemptsReason(s.o.MaxAttempts), e.attempt-1)
		return
	}
	if p := e.part; p != nil && s.o.Ordered && len(e.rec.Key) > 0 {
		if !p.keys.Claim(string(e.rec.Key), e) {
			e.state = stQueued
			p.waiting++
			s.maybePauseLocked(p)
			return
		}
	}
	s.placeLocked(e, now, false)
}

// placeLocked makes e ready, or holds it until due. A record of the
// subscribed topic that is not due yet moves to the retry topic (unless
// inMemory or the subscription is ordered), so that it does not hold back
// the partition's committed offset.
func (s *subscription) placeLocked(e *entry, now int64, inMemory bool) {
	if e.due > now {
		if !inMemory && s.retryable(e) && (e.sh != nil || !e.part.retry) {
			s.copyAsyncLocked(e, false, "", e.attempt-1)
			return
		}
		e.state = stHeld
		s.due.Push(e)
		if p := e.part; p != nil {
			p.waiting++
			p.m.held++
			s.maybePauseLocked(p)
		}
		if s.due.Peek() == e {
			s.kick.Notify()
		}
		return
	}
	e.state = stReady
	s.ready.Push(e)
}

// retryable reports whether e's retries go through the retry topic
// (unordered subscriptions) rather than memory.
func (s *subscription) retryable(e *entry) bool {
	return !s.o.Ordered
}

// outLocked returns the entry id names if it is handed out and current.
func (s *subscription) outLocked(id driver.AckID) *entry {
	e, ok := id.Ref.(*entry)
	if !ok || e == nil || e.state != stOut || e.gen != id.Seq || e.stale() {
		return nil
	}
	return e
}

// finishLocked settles e. For share records status says how.
func (s *subscription) finishLocked(e *entry, status kgo.AckStatus) {
	wasOut := e.state == stOut || e.state == stBusy
	e.state = stDone
	if m := e.sh; m != nil {
		if !m.gone {
			e.rec.Ack(status)
			m.settledLocked()
		}
		e.rec = nil
		m.pending--
		if m.pending == 0 {
			m.sh.kick.Notify()
		}
		s.noteSettledLocked()
		return
	}
	p := e.part
	var key string
	if s.o.Ordered {
		key = e.key() // a copy only where a key's queue needs it
	}
	e.rec = nil
	if p.dead {
		return
	}
	if wasOut {
		p.out--
		p.m.out--
		if p.revoking {
			p.m.settled.Notify()
		}
	}
	p.win.Advance()
	if key != "" {
		s.releaseKeyLocked(p, e, key)
	}
	if p.m.out == 0 {
		s.noteSettledLocked()
	}
}

// releaseKeyLocked lets the next message of e's key go once e is done.
func (s *subscription) releaseKeyLocked(p *partition, e *entry, key string) {
	next, ok := p.keys.Done(key, e)
	if !ok {
		return
	}
	p.waiting--
	s.maybeResumeLocked(p)
	s.placeLocked(next, time.Now().UnixNano(), false)
	s.wakeLocked()
}

// redeliverLocked makes a handed-out (or busy) entry available again at
// due, one attempt later, from memory; share records go back to the
// broker instead.
func (s *subscription) redeliverLocked(e *entry, due int64) {
	if e.sh != nil {
		s.finishLocked(e, kgo.AckRelease)
		return
	}
	p := e.part
	if p.dead {
		return
	}
	p.out--
	p.m.out--
	if p.revoking {
		p.m.settled.Notify()
	}
	e.attempt++
	e.due = due
	s.placeLocked(e, time.Now().UnixNano(), true)
	s.wakeLocked()
}
