package mq

import (
	"context"
	"sync"
	"sync/atomic"
)

// gate counts operations in progress on an object and lets Shutdown wait
// for them after refusing new ones. The zero value is open.
type gate struct {
	n    atomic.Int64 // operations in progress, plus closedBias once closed
	once sync.Once
	mu   sync.Mutex
	done chan struct{}
}

const closedBias = -1 << 40

// enter reports whether an operation may start; if so, leave must follow.
func (g *gate) enter() bool {
	if g.n.Add(1) < 0 {
		g.leave()
		return false
	}
	return true
}

func (g *gate) leave() {
	if g.n.Add(-1) == closedBias {
		g.signal()
	}
}

// close refuses new operations and reports whether this call closed it.
func (g *gate) close() bool {
	first := false
	g.once.Do(func() {
		first = true
		g.mu.Lock()
		if g.done == nil {
			g.done = make(chan struct{})
		}
		g.mu.Unlock()
		if g.n.Add(closedBias) == closedBias {
			g.signal()
		}
	})
	return first
}

func (g *gate) signal() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.done:
	default:
		close(g.done)
	}
}

// wait waits until every operation that entered has left, or ctx ends.
func (g *gate) wait(ctx context.Context) error {
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
