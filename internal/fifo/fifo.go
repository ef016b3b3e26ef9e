// Package fifo is a first-in first-out queue on a slice that reuses its
// space: the ready queue of the Kafka driver, with the shape of mq's
// emulator FIFO. Popping is O(1); the slice is compacted once its popped
// head is at least half of it, so it holds at most twice its length.
package fifo

// Queue is a FIFO of T. The zero value is ready to use; it is not safe
// for concurrent use.
type Queue[T any] struct {
	buf  []T
	head int
}

// compactAt is the popped head from which the slice is compacted (below
// it, the queue waits to run empty, which resets it for free).
const compactAt = 1024

// Len returns how many items wait.
func (q *Queue[T]) Len() int { return len(q.buf) - q.head }

// Push appends x.
func (q *Queue[T]) Push(x T) { q.buf = append(q.buf, x) }

// Pop removes and returns the first item; the queue must not be empty.
func (q *Queue[T]) Pop() T {
	var zero T
	x := q.buf[q.head]
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= compactAt && q.head*2 >= len(q.buf) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return x
}
