package memdriver

import (
	"container/heap"
	"sync"
	"time"

	"github.com/portmq/portmq/internal/clock"
)

// Clock is the engine's source of time. Every deadline, delay, lease and
// window in an Engine is measured with its Clock, so tests can inject a
// FakeClock and run without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (RealClock) or synchronously
	// from FakeClock.Advance once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer created by Clock.AfterFunc. Its methods behave like those
// of time.Timer.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// RealClock is the Clock of package time.
type RealClock struct{}

// Now returns the current time. It reads only the monotonic clock, which
// costs half of time.Now; the result has a monotonic reading, so it
// compares correctly with any time.Now value.
func (RealClock) Now() time.Time { return clock.Now() }

// AfterFunc returns time.AfterFunc(d, f).
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a Clock whose time moves only when Advance is called. Timers
// fire synchronously inside Advance, in deadline order, with Now reading the
// timer's deadline while it runs. It is safe for concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers fakeTimers
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to be called by the Advance call that moves the
// clock to or past now+d.
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{c: c, f: f, idx: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way, earliest first (timers set by those callbacks included). A
// negative d is treated as zero.
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*fakeTimer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		f := t.f
		c.mu.Unlock()
		f()
	}
}

// schedule (re)inserts t to fire d from now; c.mu is held.
func (c *FakeClock) schedule(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.seq++
	t.when = c.now.Add(d)
	t.seq = c.seq
	if t.idx >= 0 {
		heap.Fix(&c.timers, t.idx)
	} else {
		heap.Push(&c.timers, t)
	}
}

type fakeTimer struct {
	c    *FakeClock
	f    func()
	when time.Time
	seq  uint64 // ties fire in creation order
	idx  int    // index in c.timers, -1 when not pending
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.idx < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.idx)
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	active := t.idx >= 0
	t.c.schedule(t, d)
	return active
}

type fakeTimers []*fakeTimer

func (h fakeTimers) Len() int { return len(h) }
func (h fakeTimers) Less(i, j int) bool {
	if c := h[i].when.Compare(h[j].when); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h fakeTimers) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *fakeTimers) Push(x any) {
	t := x.(*fakeTimer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *fakeTimers) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}
