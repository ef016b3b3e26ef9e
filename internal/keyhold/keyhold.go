// Package keyhold keeps one item in flight per key: the rule of ordered
// subscriptions (messages of one key delivered in send order, one at a
// time; a nacked message blocks its key, not others). The first item of a
// key becomes its owner; later ones queue behind it in arrival order, and
// each takes over when the one before it is done.
package keyhold

// Hold is the per-key hold. The zero value is ready to use; it is not safe
// for concurrent use.
type Hold[T comparable] struct {
	keys    map[string]*queue[T]
	peak    int         // len(keys) at its largest since the map was made
	waiting int         // items queued behind their key's owner
	free    []*queue[T] // queues of freed keys, for reuse (at most maxFree)
}

type queue[T comparable] struct {
	owner T
	wait  []T
	head  int
}

// minShrink is the size below which the key map is never copied smaller.
const minShrink = 1024

// maxFree is how many queues of freed keys a Hold keeps for reuse, so
// that claiming a free key allocates nothing in a steady flow; maxWait is
// the largest wait capacity such a queue keeps.
const maxFree, maxWait = 64, 64

// Claim makes v its key's owner and returns true, or queues v behind the
// key's owner and returns false.
func (h *Hold[T]) Claim(key string, v T) bool {
	if q := h.keys[key]; q != nil {
		q.wait = append(q.wait, v)
		h.waiting++
		return false
	}
	if h.keys == nil {
		h.keys = make(map[string]*queue[T])
	}
	var q *queue[T]
	if n := len(h.free); n > 0 {
		q = h.free[n-1]
		h.free[n-1] = nil
		h.free = h.free[:n-1]
	} else {
		q = new(queue[T])
	}
	q.owner = v
	h.keys[key] = q
	h.peak = max(h.peak, len(h.keys))
	return true
}

// Done ends v's ownership of key: the next item queued for the key
// becomes its owner and is returned (ok true), or the key is free. Done
// by an item that does not own key does nothing.
func (h *Hold[T]) Done(key string, v T) (next T, ok bool) {
	q := h.keys[key]
	if q == nil || q.owner != v {
		return next, false
	}
	if q.head == len(q.wait) {
		delete(h.keys, key)
		if len(h.free) < maxFree {
			var zero T
			q.owner = zero
			if cap(q.wait) > maxWait {
				q.wait = nil
			}
			h.free = append(h.free, q)
		}
		if len(h.keys) < h.peak/4 && h.peak > minShrink {
			// A map never shrinks: copy it once it is mostly empty.
			m := make(map[string]*queue[T], len(h.keys))
			for k, q := range h.keys {
				m[k] = q
			}
			h.keys, h.peak = m, len(m)
		}
		return next, false
	}
	var zero T
	q.owner = q.wait[q.head]
	q.wait[q.head] = zero
	q.head++
	h.waiting--
	if q.head == len(q.wait) {
		q.wait, q.head = q.wait[:0], 0
	}
	return q.owner, true
}

// Keys returns how many keys are held.
func (h *Hold[T]) Keys() int { return len(h.keys) }

// Waiting returns how many items are queued behind their key's owner
// (owners not counted).
func (h *Hold[T]) Waiting() int { return h.waiting }

// Reset forgets every key.
func (h *Hold[T]) Reset() { h.keys, h.peak, h.waiting, h.free = nil, 0, 0, nil }
