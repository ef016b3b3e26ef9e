package memdriver

import (
	"time"

	"github.com/portmq/portmq/internal/heapq"
)

// entryState says where an entry is. An entry is in at most one of the
// subscription's structures at a time.
type entryState uint8

const (
	stFree     entryState = iota // in the free list
	stReady                      // in ready, deliverable now
	stDelayed                    // in delayed, deliverable at at
	stLeased                     // in leased, delivered, lease ends at at
	stKeyWait                    // waiting behind its key (ordered subscriptions)
	stRetained                   // acked, kept for Seek
)

// entry is one message in one subscription. Entries are recycled through
// the subscription's free list; gen, which only grows, makes AckIDs of
// earlier deliveries stale.
type entry struct {
	s     *subscription
	gen   uint64 // delivery generation; AckID.Seq
	state entryState
	idx   int       // index in delayed or leased heap
	at    time.Time // due (delayed) or lease deadline (leased)
	h     *subHandle
	// lprev and lnext link entries in leaseSet's list (inList).
	lprev, lnext *entry
	inList       bool

	attempts  int
	seq       uint64 // send order within the engine
	id        string
	body      []byte
	attrs     map[string]string
	key       string
	dedupID   string
	published time.Time
}

// minFree is the number of free entries a subscription may keep whatever
// its backlog: enough that a steady flow allocates no entries.
const minFree = 256

// epochPuts is the length, in entries put back, of the epochs over which
// the pool tracks its high-water mark.
const epochPuts = 1 << 14

// entryPool hands out entries and takes back settled ones. It keeps for
// reuse at most as many as were in use at once during the current and the
// previous epoch (and at least minFree), and drops the rest for the GC: a
// backlog that comes and goes reuses its entries, and one that drained
// gives its memory back within two epochs of puts (at most 2*epochPuts
// entries stay). Entries are allocated one by one: a slab would be freed
// only once all its entries were unreferenced, which an out-of-order drain
// could delay indefinitely.
type entryPool struct {
	free       []*entry
	live       int // entries handed out and not put back
	puts       int // puts in the current epoch
	hw, prevHW int // most live entries in the current and the previous epoch
}

func (p *entryPool) get(s *subscription) *entry {
	p.live++
	p.hw = max(p.hw, p.live)
	n := len(p.free)
	if n == 0 {
		return &entry{s: s, idx: -1}
	}
	e := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return e
}

// put resets e, which drops its body and attributes, and keeps it for
// reuse or drops it.
func (p *entryPool) put(e *entry) {
	p.live--
	if p.puts++; p.puts == epochPuts {
		p.puts, p.prevHW, p.hw = 0, p.hw, p.live
	}
	gen, s := e.gen+1, e.s
	*e = entry{s: s, gen: gen, state: stFree, idx: -1}
	keep := max(minFree, p.hw, p.prevHW) - p.live
	if len(p.free) < keep {
		p.free = append(p.free, e)
		return
	}
	// e is dropped, and so are the entries beyond keep (the high-water
	// mark fell at an epoch's end).
	if len(p.free) > keep {
		clear(p.free[keep:])
		p.free = shrink(p.free[:keep])
	}
}

// minShrink is the capacity below which shrink keeps a slice as it is.
const minShrink = 1024

// shrink returns s, or a copy of it with twice its length as capacity if
// it uses less than a quarter of a capacity above minShrink.
func shrink[S ~[]E, E any](s S) S {
	if c := cap(s); c > minShrink && len(s) < c/4 {
		n := make(S, len(s), max(minShrink, 2*len(s)))
		copy(n, s)
		return n
	}
	return s
}

// ring is a FIFO of entries.
type ring struct {
	buf        []*entry
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(e *entry) {
	if r.size == len(r.buf) {
		r.resize(max(64, 2*len(r.buf)))
	}
	r.buf[(r.head+r.size)%len(r.buf)] = e
	r.size++
}

func (r *ring) pop() *entry {
	e := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	if len(r.buf) > minShrink && r.size < len(r.buf)/4 {
		r.resize(len(r.buf) / 2) // a drained backlog gives its buffer back
	}
	return e
}

// resize moves the entries to a buffer of n slots (n >= size).
func (r *ring) resize(n int) {
	buf := make([]*entry, n)
	if r.size > 0 {
		if k := copy(buf, r.buf[r.head:min(len(r.buf), r.head+r.size)]); k < r.size {
			copy(buf[k:], r.buf[:r.size-k])
		}
	}
	r.buf, r.head = buf, 0
}

// newTimeHeap returns a heap of entries by at (then send order), with
// each entry's index kept in entry.idx so that any entry can be removed
// in O(log n).
func newTimeHeap() heapq.Heap[*entry] {
	return heapq.New(entryBefore, func(e *entry, i int) { e.idx = i })
}

func entryBefore(a, b *entry) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}
