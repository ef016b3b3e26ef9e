package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// pacer spaces events at a rate per second across all its callers; a
// zero rate means no limit.
type pacer struct {
	rate  float64
	mu    sync.Mutex
	start time.Time
	n     int64 // events allowed so far
}

func newPacer(rate float64) *pacer { return &pacer{rate: rate, start: time.Now()} }

// take waits until up to want more events are due and returns how many it
// took (at least 1), or ctx's error.
func (p *pacer) take(ctx context.Context, want int) (int, error) {
	if p == nil || p.rate <= 0 {
		return want, ctx.Err()
	}
	for {
		p.mu.Lock()
		due := int64(time.Since(p.start).Seconds()*p.rate) + 1 // the first event is due at once
		if k := due - p.n; k > 0 {
			k = min(k, int64(want))
			p.n += k
			p.mu.Unlock()
			return int(k), nil
		}
		wait := time.Until(p.start.Add(time.Duration(float64(p.n) / p.rate * float64(time.Second))))
		p.mu.Unlock()
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// isTerminal reports whether w is a character device (a terminal), where
// progress lines are shown.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress rewrites one status line on a terminal every second until
// stopped; on anything else it prints nothing.
type progress struct {
	stop chan struct{}
	done chan struct{}
	w    io.Writer
}

// startProgress calls line every second and shows its result on w, if w
// is a terminal.
func startProgress(w io.Writer, line func(elapsed time.Duration) string) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{}), w: w}
	if !isTerminal(w) {
		close(p.done)
		return p
	}
	start := time.Now()
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-p.stop:
				if shown {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
				fmt.Fprintf(w, "\r\033[K%s", line(time.Since(start)))
				shown = true
			}
		}
	}()
	return p
}

// Stop erases the line and returns once the progress goroutine ended.
func (p *progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// shutdownContext bounds a Shutdown after ctx may have ended.
func shutdownContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// giveBack returns events taken but not used.
func (p *pacer) giveBack(k int) {
	if p == nil || p.rate <= 0 || k <= 0 {
		return
	}
	p.mu.Lock()
	p.n -= int64(k)
	p.mu.Unlock()
}
