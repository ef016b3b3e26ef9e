package clock

import (
	"context"
	"errors"
	"time"
)

// Clock is a source of time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once d has passed: in its own goroutine (Real) or
	// synchronously from Fake.Advance.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer created by Clock.AfterFunc. Its methods behave like those
// of a time.Timer made by time.AfterFunc.
type Timer interface {
	// Stop prevents the timer from firing. It reports whether it was
	// pending.
	Stop() bool
	// Reset makes the timer fire d from now (again). It reports whether it
	// was pending.
	Reset(d time.Duration) bool
}

// Sleep waits until d has passed on c, ctx ends or stop (which may be nil)
// is closed, whichever comes first. It returns nil after d, ctx.Err() when
// ctx ended, and ErrStopped when stop was closed. A d of zero or less
// returns at once: nil, or ctx's error or ErrStopped if either is there.
func Sleep(ctx context.Context, c Clock, d time.Duration, stop <-chan struct{}) error {
	if d <= 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-stop:
			return ErrStopped
		default:
			return nil
		}
	}
	done := make(chan struct{})
	t := c.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-stop:
		t.Stop()
		return ErrStopped
	}
}

// ErrStopped is what Sleep returns when its stop channel was closed.
var ErrStopped = errors.New("clock: sleep stopped")
