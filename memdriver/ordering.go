package memdriver

import "time"

// One message in flight per key: on an ordered subscription, an entry of
// a busy key (one of its entries is ready, delayed or leased: the key's
// owner in s.keys, the keyhold.Hold shared with mq and the drivers) waits
// behind it in send order.

// waitKey makes e its key's owner, or queues it behind the owner, in
// which case it returns true. due is kept for when e's turn comes.
func (s *subscription) waitKey(e *entry, due time.Time) bool {
	if s.keys.Claim(e.key, e) {
		return false
	}
	e.state = stKeyWait
	e.at = due
	e.h = nil
	return true
}

// releaseKey is called when e, its key's owner, leaves for good (acked or
// dead-lettered): the next entry of the key becomes available.
func (s *subscription) releaseKey(e *entry, at *instant) {
	if !s.ordered || e.key == "" {
		return
	}
	if n, ok := s.keys.Done(e.key, e); ok {
		s.makeAvailable(n, at, n.at)
	}
}

// shrinkMap returns a copy of m sized for its entries.
func shrinkMap[M ~map[K]V, K comparable, V any](m M) M {
	n := make(M, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}
