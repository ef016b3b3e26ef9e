package kafka

// Idle leave: a handle nobody receives from leaves its groups, so that it
// does not sit on partitions.

import (
	"time"
)

// noteSettledLocked restarts the idleness clock when nothing is handed
// out any more.
func (s *subscription) noteSettledLocked() {
	if s.receivers == 0 {
		s.lastActive = time.Now().UnixNano()
		s.armIdleLocked()
	}
}

// armIdleLocked asks the scheduler to check, IdleLeave after the last
// activity, whether this handle should leave its groups.
func (s *subscription) armIdleLocked() {
	if s.idleAt == 0 && !s.closed {
		s.idleAt = s.lastActive + int64(s.o.IdleLeave)
		s.kick.Notify()
	}
}

// checkIdleLocked leaves the groups (and gives back fetched share
// records) when nobody received for IdleLeave and nothing is out.
func (s *subscription) checkIdleLocked(now int64) {
	if s.closed || s.receivers > 0 {
		return
	}
	if since := now - s.lastActive; since < int64(s.o.IdleLeave) {
		s.idleAt = s.lastActive + int64(s.o.IdleLeave)
		return
	}
	for _, g := range s.groups {
		m := g.m
		if m == nil || m.out > 0 || (s.o.Ordered && m.held > 0) {
			continue
		}
		g.m = nil
		m.closing = true
		m.settled.Notify() // a revocation waiting for deliveries gives up
		s.wg.Go(func() { g.teardown(m) })
	}
	if s.share != nil {
		s.share.leaveIfIdleLocked()
	}
}
