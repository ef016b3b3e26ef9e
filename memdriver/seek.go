package memdriver

import (
	"cmp"
	"slices"
	"time"
)

// pruneMin is the number of retained entries at which the first prune
// runs; later ones run when the list doubled since the last.
const pruneMin = 64

// prune frees retained entries published more than retention ago.
func (s *subscription) prune(now time.Time) {
	keep := s.retained[:0]
	for _, e := range s.retained {
		if e.published.Add(s.retention).After(now) {
			keep = append(keep, e)
		} else {
			s.pool.put(e)
		}
	}
	clear(s.retained[len(keep):])
	s.retained = shrink(keep)
}

// seek makes every retained entry published at or after t available again,
// in send order, with its attempt count reset.
func (s *subscription) seek(t time.Time, at *instant) {
	s.prune(at.now())
	keep := s.retained[:0]
	var back []*entry
	for _, e := range s.retained {
		if e.published.Before(t) {
			keep = append(keep, e)
		} else {
			back = append(back, e)
		}
	}
	clear(s.retained[len(keep):])
	s.retained = keep
	slices.SortFunc(back, func(a, b *entry) int { return cmpSeq(a.seq, b.seq) })
	for _, e := range back {
		e.attempts = 0
		s.admit(e, at, time.Time{})
	}
}

func cmpSeq(a, b uint64) int { return cmp.Compare(a, b) }
