// Package heapq is an indexed binary min-heap: the items know their place
// in it, so that one can be removed or re-sorted in O(log n) when its key
// changes. It orders the Kafka driver's held records and clock.Fake's
// timers, and mq's emulated leases and held deliveries.
//
// Unlike container/heap it is generic (no interface boxing on Push and
// Pop) and keeps the index itself through a callback.
package heapq

// Heap is a min-heap of T ordered by less. Its zero value is not usable:
// make one with New. It is not safe for concurrent use.
type Heap[T any] struct {
	items []T
	less  func(a, b T) bool
	index func(x T, i int) // records x's place; -1 when it leaves
}

// New returns an empty heap ordered by less (less(a, b): a comes out
// first) that tells each item its index through setIndex, with -1 when it
// leaves the heap.
func New[T any](less func(a, b T) bool, setIndex func(x T, i int)) Heap[T] {
	return Heap[T]{less: less, index: setIndex}
}

// minShrink is the capacity below which Remove never copies the heap's
// slice smaller.
const minShrink = 1024

// Len returns how many items the heap holds.
func (h *Heap[T]) Len() int { return len(h.items) }

// Peek returns the least item; the heap must not be empty.
func (h *Heap[T]) Peek() T { return h.items[0] }

// At returns the item at index i (as told to setIndex), which must be in
// [0, Len()).
func (h *Heap[T]) At(i int) T { return h.items[i] }

// Clear empties the heap, telling each item -1, and returns the items it
// held, in no particular order; the heap keeps none of them.
func (h *Heap[T]) Clear() []T {
	items := h.items
	h.items = nil
	for _, x := range items {
		h.index(x, -1)
	}
	return items
}

// Push adds x.
func (h *Heap[T]) Push(x T) {
	h.items = append(h.items, x)
	i := len(h.items) - 1
	h.index(x, i)
	h.up(i)
}

// Pop removes and returns the least item; the heap must not be empty.
func (h *Heap[T]) Pop() T { return h.Remove(0) }

// Remove removes and returns the item at index i (as told to setIndex).
func (h *Heap[T]) Remove(i int) T {
	n := len(h.items) - 1
	x := h.items[i]
	if i != n {
		h.swap(i, n)
	}
	var zero T
	h.items[n] = zero
	h.items = h.items[:n]
	if c := cap(h.items); c > minShrink && n < c/4 {
		// A drained heap gives its memory back.
		h.items = append(make([]T, 0, max(minShrink, 2*n)), h.items...)
	}
	if i != n && !h.down(i) {
		h.up(i)
	}
	h.index(x, -1)
	return x
}

// Fix restores the order after the item at index i changed its key.
func (h *Heap[T]) Fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *Heap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.index(h.items[i], i)
	h.index(h.items[j], j)
}

func (h *Heap[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(h.items[j], h.items[i]) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down moves the item at i0 down and reports whether it moved.
func (h *Heap[T]) down(i0 int) bool {
	i, n := i0, len(h.items)
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(h.items[r], h.items[l]) {
			j = r
		}
		if !h.less(h.items[j], h.items[i]) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
