package clock

import (
	"sync"
	"time"

	"github.com/portmq/portmq/internal/heapq"
)

// Fake is a Clock whose time moves only when Advance is called. Timers
// fire synchronously inside Advance, in deadline order, with Now reading the
// timer's deadline while it runs. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers heapq.Heap[*fakeTimer] // made on first use: a zero Fake works
	inited bool
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the clock's current time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to be called by the Advance call that moves the
// clock to or past now+d.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{c: c, f: f, idx: -1}
	c.mu.Lock()
	c.schedule(t, d)
	c.mu.Unlock()
	return t
}

// Advance moves the clock forward by d, firing every timer that falls due on
// the way, earliest first (timers set by those callbacks included). A
// negative d is treated as zero.
func (c *Fake) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.timers.Len() == 0 || c.timers.Peek().when.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers.Pop()
		if t.when.After(c.now) {
			c.now = t.when
		}
		f := t.f
		c.mu.Unlock()
		f()
	}
}

// Pending reports how many timers wait to fire. A test that advances the
// clock past a timer another goroutine sets can wait for the timer to be
// pending first, instead of sleeping.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timers.Len()
}

// schedule (re)inserts t to fire d from now; c.mu is held.
func (c *Fake) schedule(t *fakeTimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	if !c.inited {
		c.timers, c.inited = heapq.New(timerBefore, func(t *fakeTimer, i int) { t.idx = i }), true
	}
	c.seq++
	t.when = c.now.Add(d)
	t.seq = c.seq
	if t.idx >= 0 {
		c.timers.Fix(t.idx)
	} else {
		c.timers.Push(t)
	}
}

// timerBefore orders timers by deadline, ties in creation order.
func timerBefore(a, b *fakeTimer) bool {
	if c := a.when.Compare(b.when); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

type fakeTimer struct {
	c    *Fake
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
	t.c.timers.Remove(t.idx)
	return true
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	active := t.idx >= 0
	t.c.schedule(t, d)
	return active
}
