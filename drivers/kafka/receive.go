package kafka

// ReceiveBatch and what hands entries out: the ready queue, message IDs,
// and joining the groups on first use.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
)

// ReceiveBatch hands out ready entries, joining the group on first use.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err // a receiver that gave up takes nothing
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errClosed
	}
	if err := s.activateLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.receivers++
	defer s.leaveReceiveLocked()
	for {
		if n, counts := s.takeLocked(dst); n > 0 {
			if counts != nil {
				// Delivery counts to commit before handing out (see
				// member.admit); once per partition and assignment.
				s.mu.Unlock()
				for m, set := range counts {
					m.commit(ctx, set)
				}
				s.mu.Lock()
			}
			return n, nil
		}
		if s.closed {
			return 0, errClosed
		}
		if err := s.fatal; err != nil {
			s.fatal = nil
			return 0, err
		}
		w := s.wake.Wait()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			return 0, ctx.Err()
		case <-w:
		}
		s.mu.Lock()
	}
}

// leaveReceiveLocked ends a ReceiveBatch call (and unlocks mu): the last
// receiver to leave starts the idleness clock and stops a share fetch
// nobody waits for.
func (s *subscription) leaveReceiveLocked() {
	s.receivers--
	if s.receivers == 0 {
		s.lastActive = time.Now().UnixNano()
		s.armIdleLocked()
		if sh := s.share; sh != nil && sh.pollCancel != nil {
			sh.pollCancel()
		}
	}
	s.mu.Unlock()
}

// activateLocked makes sure every source consumes: it joins the groups
// this handle left (or never joined) and wakes the share fetcher.
func (s *subscription) activateLocked() error {
	for _, g := range s.groups {
		if g.m == nil {
			if err := g.join(); err != nil {
				return err
			}
		}
	}
	if s.share != nil {
		s.share.kick.Notify()
	}
	return nil
}

// takeLocked hands out up to len(dst) ready entries. (mq wakes the other
// Receive calls waiting here when one call brings back more than its
// caller takes, so one call may take a whole batch.)
func (s *subscription) takeLocked(dst []driver.Message) (int, map[*member]commitSet) {
	var counts map[*member]commitSet
	n := 0
	for n < len(dst) && s.ready.Len() > 0 {
		e := s.ready.Pop()
		if e.state != stReady || !s.handableLocked(e) {
			continue
		}
		e.state = stOut
		e.gen++
		if p := e.part; p != nil {
			p.out++
			p.m.out++
			if n := e.attempt - e.base; p.restart.Delivered(e.off, n) {
				if c := (commitAt{off: e.off, n: n}); c != p.committedAt {
					if counts == nil {
						counts = make(map[*member]commitSet)
					}
					if counts[p.m] == nil {
						counts[p.m] = make(commitSet)
					}
					counts[p.m][tp{p.topic, p.id}] = c
				}
			}
		}
		m := &dst[n]
		*m = driver.Message{AckID: driver.AckID{Ref: e, Seq: e.gen}, Attempt: e.attempt, Native: e.rec}
		fillMessage(m, e.rec)
		n++
	}
	s.setIDsLocked(dst[:n])
	if n > 0 && s.ready.Len() > 0 {
		s.wakeLocked() // others take what is left
	}
	if n > 0 && s.ready.Len() < s.o.MaxPollRecords {
		s.space.Fire()
	}
	return n, counts
}

// setIDsLocked gives the messages that carry no ID header their ID,
// PARTITION-OFFSET.
func (s *subscription) setIDsLocked(ms []driver.Message) {
	l := &s.ids
	l.reset()
	for i := range ms {
		if ms[i].ID == "" {
			r := ms[i].AckID.Ref.(*entry).rec
			l.add(r.Partition, r.Offset)
		}
	}
	k := 0
	for i := range ms {
		if ms[i].ID == "" {
			ms[i].ID = l.id(k)
			k++
		}
	}
	l.reset() // drops the string; keeps the scratch
}

// handableLocked reports whether e may be handed out now.
func (s *subscription) handableLocked(e *entry) bool {
	if p := e.part; p != nil {
		return !p.dead && !p.revoking && !p.m.closing
	}
	return e.sh != nil && !e.sh.gone && !e.sh.leaving
}

// noteFetchErrorsLocked keeps the first error of a poll worth returning
// from ReceiveBatch; the client retries every other one by itself.
func (s *subscription) noteFetchErrorsLocked(fs kgo.Fetches) {
	fs.EachError(func(t string, _ int32, err error) {
		switch errorCode(err) {
		case driver.PermissionDenied, driver.Unauthenticated:
			if s.fatal == nil {
				s.fatal = wrap("fetch "+t, err)
			}
		}
	})
}
