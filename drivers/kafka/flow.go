package kafka

// Flow control: fetching stops while the ready queue is full or a
// partition holds too many entries, and receivers wait for entries.

import (
	"context"
)

// holdCap is how many entries a partition may keep waiting (for their
// due time or behind their key) before its fetching is paused. Tests
// lower it.
var holdCap = 1000

// waitSpace waits until the ready queue has room for another fetch.
func (s *subscription) waitSpace(ctx context.Context) bool {
	s.mu.Lock()
	for s.ready.Len() >= s.o.MaxPollRecords && !s.closed {
		sp := s.space.Wait()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-sp:
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return ctx.Err() == nil
}

// wakeAll wakes every waiting receiver, for an error or Close.
func (s *subscription) wakeAll() { s.wake.Fire() }

// wakeLocked wakes the receivers waiting for entries.
func (s *subscription) wakeLocked() {
	if s.ready.Len() > 0 {
		s.wake.Fire()
	}
}

func (s *subscription) maybePauseLocked(p *partition) {
	if !p.paused && p.waiting >= holdCap && !p.dead {
		p.paused = true
		p.m.cl.PauseFetchPartitions(map[string][]int32{p.topic: {p.id}})
	}
}

func (s *subscription) maybeResumeLocked(p *partition) {
	if p.paused && p.waiting < holdCap/2 && !p.dead {
		p.paused = false
		p.m.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.id}})
	}
}

// unholdLocked takes a held entry out of the waiting count.
func (s *subscription) unholdLocked(e *entry) {
	if p := e.part; p != nil {
		p.waiting--
		p.m.held--
		s.maybeResumeLocked(p)
	}
}
