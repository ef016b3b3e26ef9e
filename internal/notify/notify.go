// Package notify holds the small waking and waiting primitives that the
// drivers' loops share: a broadcast that wakes every waiter at once, a
// coalescing kick for one loop, a scheduler loop, and waits bounded by a
// context or a duration.
package notify

import (
	"sync"
	"time"
)

// Broadcast wakes every goroutine waiting on it at once: a channel made
// when the first waits and closed when fired. It is guarded by the
// caller's mutex: call Wait under it, unlock, then select on the channel.
// The zero value is ready to use.
type Broadcast struct{ ch chan struct{} }

// Wait returns a channel closed by the next Fire.
func (b *Broadcast) Wait() <-chan struct{} {
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Fire wakes every goroutine waiting on a channel Wait returned.
func (b *Broadcast) Fire() {
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// Kick wakes one loop: kicks sent while the loop is busy coalesce into
// one wake-up, and Notify never blocks. Make one with NewKick; the loop
// receives from the channel.
type Kick chan struct{}

// NewKick returns a Kick.
func NewKick() Kick { return make(Kick, 1) }

// Notify wakes the loop, or leaves a wake-up for when it next waits.
func (k Kick) Notify() {
	select {
	case k <- struct{}{}:
	default:
	}
}

// Run is a scheduler loop: it calls step, waits until the duration step
// returned has passed, kick is notified or done is closed, and calls step
// again, until done is closed. A step that returns 0 or less leaves the
// previous wait in place.
func Run(done <-chan struct{}, kick Kick, step func() time.Duration) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if next := step(); next > 0 {
			t.Reset(next)
		}
		select {
		case <-done:
			return
		case <-kick:
		case <-t.C:
		}
	}
}

// WaitTimeout waits for wg, at most d, and reports whether wg was done.
func WaitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
