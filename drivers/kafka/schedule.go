package kafka

// The scheduler: one goroutine per handle promotes held entries when due,
// runs the idleness check and renews share locks.

import (
	"time"

	"github.com/portmq/portmq/internal/notify"
)

// schedule runs the due heap, the idleness check and share lock renewals.
func (s *subscription) schedule() { notify.Run(s.ctx.Done(), s.kick, s.step) }

// step does what is due and returns how long until the next thing is.
func (s *subscription) step() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixNano()
	next := int64(time.Hour)
	promoted := false
	for s.due.Len() > 0 {
		e := s.due.Peek()
		if e.due > now {
			next = min(next, e.due-now)
			break
		}
		s.due.Pop()
		if e.state != stHeld || e.stale() {
			continue
		}
		s.unholdLocked(e)
		e.state = stReady
		s.ready.Push(e)
		promoted = true
	}
	if promoted {
		s.wakeLocked()
	}
	if s.idleAt != 0 && now >= s.idleAt {
		s.idleAt = 0
		s.checkIdleLocked(now) // may re-arm
	}
	if s.idleAt != 0 {
		next = min(next, s.idleAt-now)
	}
	if sh := s.share; sh != nil {
		if d := sh.renewLocked(now); d > 0 {
			next = min(next, d)
		}
	}
	return time.Duration(max(next, int64(time.Millisecond)))
}
