// Package offsets tracks the position to commit in one partition of a log
// (Kafka now, Kinesis next) whose messages are settled in any order: the
// offset of the first unsettled message, or the one after the newest when
// all are settled. A reader that restarts from it redelivers what was not
// settled (and whatever was settled after it) and skips nothing.
package offsets

// Entry is what a Window holds: a fetched message that knows its offset
// and whether it is settled.
type Entry interface {
	comparable
	Offset() int64
	Settled() bool
}

// Window holds the fetched entries of one partition in offset order, from
// the first unsettled one. The zero value is not ready: use New. It is not
// safe for concurrent use.
type Window[E Entry] struct {
	ents  []E // from head
	head  int
	last  int64 // offset of the newest entry pushed; -1 before any
	start int64 // the frontier before any entry; -1: nothing to commit
}

// New returns an empty window with nothing to commit.
func New[E Entry]() Window[E] { return Window[E]{last: -1, start: -1} }

// Push appends the newest fetched entry; offsets must increase.
func (w *Window[E]) Push(e E) {
	w.ents = append(w.ents, e)
	w.last = e.Offset()
}

// Advance drops the settled entries at the front; call it when an entry
// is settled. The space of dropped entries is reused.
func (w *Window[E]) Advance() {
	var zero E
	for w.head < len(w.ents) && w.ents[w.head].Settled() {
		w.ents[w.head] = zero
		w.head++
	}
	switch {
	case w.head == len(w.ents):
		w.ents, w.head = w.ents[:0], 0
	case w.head >= 256 && w.head*2 >= len(w.ents):
		n := copy(w.ents, w.ents[w.head:])
		clear(w.ents[n:])
		w.ents, w.head = w.ents[:n], 0
	}
}

// Frontier is the offset to commit: that of the first unsettled entry, or
// the one after the newest when all are settled; before any entry, the
// start given to Reset, else -1 (nothing to commit).
func (w *Window[E]) Frontier() int64 {
	if w.head < len(w.ents) {
		return w.ents[w.head].Offset()
	}
	if w.last < 0 {
		return w.start
	}
	return w.last + 1
}

// Pending returns the entries from the first unsettled one, oldest first
// (later ones may be settled). The slice is the window's own.
func (w *Window[E]) Pending() []E { return w.ents[w.head:] }

// Reset forgets every entry and its memory: the frontier is start (-1:
// nothing to commit) until the next Push, as after a seek to start.
func (w *Window[E]) Reset(start int64) {
	w.ents, w.head, w.last, w.start = nil, 0, -1, start
}
