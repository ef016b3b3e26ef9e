package memdriver

import (
	"sync"
	"sync/atomic"
	"time"
)

// dedup remembers the DedupIDs sent to a topic within its window.
type dedup struct {
	window atomic.Int64 // time.Duration; 0 = off

	mu    sync.Mutex
	ids   map[string]dedupRec
	order []dedupOrder // claims in time order, for pruning
	head  int
	peak  int // most ids since ids was last copied
}

type dedupRec struct {
	id  string
	exp time.Time
}

type dedupOrder struct {
	dedupID string
	exp     time.Time
}

func (d *dedup) getWindow() time.Duration  { return time.Duration(d.window.Load()) }
func (d *dedup) setWindow(w time.Duration) { d.window.Store(int64(w)) }

// claim records dedupID for message id unless it was claimed within the
// window, in which case it returns the original message's ID and true.
func (d *dedup) claim(dedupID, id string, now time.Time, window time.Duration) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prune(now)
	if r, ok := d.ids[dedupID]; ok && r.exp.After(now) {
		return r.id, true
	}
	if d.ids == nil {
		d.ids = make(map[string]dedupRec)
	}
	exp := now.Add(window)
	d.ids[dedupID] = dedupRec{id: id, exp: exp}
	d.peak = max(d.peak, len(d.ids))
	d.order = append(d.order, dedupOrder{dedupID, exp})
	return "", false
}

// expire forgets claims whose window ended.
func (d *dedup) expire(now time.Time) {
	d.mu.Lock()
	d.prune(now)
	d.mu.Unlock()
}

// prune forgets claims whose window ended; d.mu is held.
func (d *dedup) prune(now time.Time) {
	for d.head < len(d.order) && !d.order[d.head].exp.After(now) {
		o := d.order[d.head]
		if r, ok := d.ids[o.dedupID]; ok && r.exp.Equal(o.exp) {
			delete(d.ids, o.dedupID)
		}
		d.order[d.head] = dedupOrder{}
		d.head++
	}
	if d.head > 0 && d.head >= len(d.order)/2 {
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = shrink(d.order[:n])
		d.head = 0
	}
	if len(d.ids) < d.peak/4 && d.peak > minShrink {
		d.ids, d.peak = shrinkMap(d.ids), len(d.ids)
	}
}
