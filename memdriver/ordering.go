package memdriver

import "time"

// keyState is a busy key of an ordered subscription: one of its entries is
// ready, delayed or leased (the key's head), and later ones wait here in
// send order.
type keyState struct {
	head, tail *entry
}

// waitKey marks e's key busy, or queues e behind it if it is busy already,
// in which case it returns true. due is kept for when e's turn comes.
func (s *subscription) waitKey(e *entry, due time.Time) bool {
	ks := s.keys[e.key]
	if ks == nil {
		if s.keys == nil {
			s.keys = make(map[string]*keyState)
		}
		s.keys[e.key] = &keyState{}
		s.keysPeak = max(s.keysPeak, len(s.keys))
		return false
	}
	e.state = stKeyWait
	e.at = due
	e.h = nil
	e.next = nil
	if ks.tail == nil {
		ks.head = e
	} else {
		ks.tail.next = e
	}
	ks.tail = e
	return true
}

// releaseKey is called when e, its key's head, leaves for good (acked or
// dead-lettered): the next entry of the key becomes available.
func (s *subscription) releaseKey(e *entry, at *instant) {
	if !s.ordered || e.key == "" {
		return
	}
	ks := s.keys[e.key]
	if ks == nil {
		return
	}
	n := ks.head
	if n == nil {
		delete(s.keys, e.key)
		if len(s.keys) < s.keysPeak/4 && s.keysPeak > minShrink {
			// A map never shrinks: copy it once it is mostly empty.
			s.keys, s.keysPeak = shrinkMap(s.keys), len(s.keys)
		}
		return
	}
	ks.head = n.next
	if ks.head == nil {
		ks.tail = nil
	}
	n.next = nil
	s.makeAvailable(n, at, n.at)
}

// shrinkMap returns a copy of m sized for its entries.
func shrinkMap[M ~map[K]V, K comparable, V any](m M) M {
	n := make(M, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}
