package conformance

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"
)

// tb is what a case needs from its runner: *testing.T satisfies it, and so
// does recorder, which Check uses. As with testing, Fatalf and Skipf must
// be called from the case's own goroutine; other goroutines use Errorf.
type tb interface {
	Helper()
	Name() string
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	Cleanup(func())
	Context() context.Context
}

// recorder runs one case outside package testing and records its outcome.
type recorder struct {
	name string
	w    io.Writer
	ctx  context.Context

	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }

func (r *recorder) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, s)
	if r.w != nil {
		for _, line := range strings.Split(s, "\n") {
			fmt.Fprintf(r.w, "    %s\n", line)
		}
	}
}

func (r *recorder) Logf(format string, args ...any) { r.log(fmt.Sprintf(format, args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	r.log(fmt.Sprintf(format, args...))
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.log(fmt.Sprintf(format, args...))
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *recorder) Context() context.Context { return r.ctx }

// runCleanups runs the cleanup functions last-in first-out, each even if an
// earlier one called Fatalf.
func (r *recorder) runCleanups() {
	for {
		r.mu.Lock()
		n := len(r.cleanups)
		if n == 0 {
			r.mu.Unlock()
			return
		}
		f := r.cleanups[n-1]
		r.cleanups = r.cleanups[:n-1]
		r.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				if p := recover(); p != nil {
					r.Errorf("panic in cleanup: %v", p)
				}
			}()
			f()
		}()
		<-done
	}
}

// runRecorded runs one case in its own goroutine, as testing does, and
// returns its result. A case that outlives limit is reported as failed and
// abandoned.
func runRecorded(ctx context.Context, c *caseDef, s *suite, w io.Writer, limit time.Duration) Result {
	cctx, cancel := context.WithCancel(ctx)
	r := &recorder{name: c.Name, w: w, ctx: cctx}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.runCleanups()
		defer cancel() // as testing: the context ends before cleanups run
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("panic: %v", p)
			}
		}()
		s.runCase(r, c)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		r.Errorf("case did not finish within %v; abandoned", limit)
		cancel()
	case <-ctx.Done():
		r.Errorf("check canceled: %v", ctx.Err())
		cancel()
		<-done
	}
	res := Result{Name: c.Name, Rule: c.Rule, Duration: time.Since(start)}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.failed:
		res.Status = Fail
	case r.skipped:
		res.Status = Skip
	default:
		res.Status = Pass
	}
	res.Message = strings.Join(r.msgs, "\n")
	return res
}
