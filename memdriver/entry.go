package memdriver

import "time"

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

// entry is one message in one subscription. Entries are allocated in slabs
// and recycled through the subscription's free list; gen, which only grows,
// makes AckIDs of earlier deliveries stale.
type entry struct {
	s     *subscription
	gen   uint64 // delivery generation; AckID.Seq
	state entryState
	idx   int       // index in delayed or leased heap
	at    time.Time // due (delayed) or lease deadline (leased)
	h     *subHandle
	next  *entry // next entry of the same key (stKeyWait list)
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

const slabSize = 64

// entryPool hands out entries, allocating slabs of slabSize.
type entryPool struct {
	free []*entry
}

func (p *entryPool) get(s *subscription) *entry {
	if len(p.free) == 0 {
		slab := make([]entry, slabSize)
		for i := range slab {
			slab[i].s = s
			p.free = append(p.free, &slab[i])
		}
	}
	e := p.free[len(p.free)-1]
	p.free[len(p.free)-1] = nil
	p.free = p.free[:len(p.free)-1]
	return e
}

func (p *entryPool) put(e *entry) {
	gen, s := e.gen+1, e.s
	*e = entry{s: s, gen: gen, state: stFree, idx: -1}
	p.free = append(p.free, e)
}

// ring is a FIFO of entries.
type ring struct {
	buf        []*entry
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(e *entry) {
	if r.size == len(r.buf) {
		n := 2 * len(r.buf)
		if n == 0 {
			n = 64
		}
		buf := make([]*entry, n)
		k := copy(buf, r.buf[r.head:])
		copy(buf[k:], r.buf[:r.head])
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = e
	r.size++
}

func (r *ring) pop() *entry {
	e := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return e
}

// timeHeap is a min-heap of entries by at, with each entry's index kept in
// entry.idx so that any entry can be removed in O(log n).
type timeHeap []*entry

func (h timeHeap) len() int { return len(h) }

func (h timeHeap) less(i, j int) bool {
	if c := h[i].at.Compare(h[j].at); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}

func (h timeHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *timeHeap) push(e *entry) {
	e.idx = len(*h)
	*h = append(*h, e)
	h.up(e.idx)
}

// min returns the earliest entry; the heap must not be empty.
func (h timeHeap) min() *entry { return h[0] }

func (h *timeHeap) remove(e *entry) {
	i := e.idx
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	e.idx = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h timeHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h timeHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
