package offsets

// Restart counts the deliveries a crash would otherwise hide. A reader
// that takes a partition over starts at the committed position as if
// nothing had happened there, so the first message it reads is the one a
// crashed reader may have been delivering again and again. The reader
// commits, with the position of that message, how many times it was
// delivered (redeliver.FormatCheckpoint), before each hand-out of it; the
// next reader starts that message's attempts there, so that crashes count
// toward max attempts. The zero value is not ready: use NewRestart.
type Restart struct {
	started bool
	off     int64 // the first message read; -1 before
	n       int   // its deliveries, counting those the previous reader left
	prevOff int64 // the position the previous reader committed a count with; -1 none
	prevN   int
}

// NewRestart returns a Restart for a partition just taken over.
func NewRestart() Restart { return Restart{off: -1, prevOff: -1} }

// Left records the count the previous reader committed with position off
// (from the commit's metadata); it is ignored once a message was read.
func (r *Restart) Left(off int64, n int) {
	if !r.started {
		r.prevOff, r.prevN = off, n
	}
}

// Read notes a message read at off. For the first one it returns the
// deliveries the previous reader made of it, to add to its attempt count;
// otherwise 0.
func (r *Restart) Read(off int64) int {
	if r.started {
		return 0
	}
	r.started, r.off = true, off
	if r.prevOff == off {
		r.n = r.prevN
	}
	return r.n
}

// Delivered notes that the message at off is handed out, delivered n
// times in all by now. It reports whether off is the first message read,
// whose count must then be committed before the hand-out.
func (r *Restart) Delivered(off int64, n int) bool {
	if off != r.off {
		return false
	}
	r.n = n
	return true
}

// At returns the count to commit with position off: the deliveries of the
// first message read when off is its position, else 0.
func (r *Restart) At(off int64) int {
	if off != r.off {
		return 0
	}
	return r.n
}
