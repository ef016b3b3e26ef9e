package clock

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestFakeFiresTimersInDeadlineOrderAtTheirDeadline(t *testing.T) {
	c := NewFake(t0)
	var got []string
	var at []time.Duration
	rec := func(name string) func() {
		return func() { got = append(got, name); at = append(at, c.Now().Sub(t0)) }
	}
	c.AfterFunc(3*time.Second, rec("c"))
	c.AfterFunc(1*time.Second, rec("a"))
	tb := c.AfterFunc(2*time.Second, rec("b"))
	stopped := c.AfterFunc(2*time.Second, rec("stopped"))
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.AfterFunc(10*time.Second, rec("late"))
	c.Advance(500 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	c.Advance(3 * time.Second)
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(at, want) {
		t.Fatalf("fired at %v, want %v", at, want)
	}
	if c.Now() != t0.Add(3500*time.Millisecond) {
		t.Fatalf("Now = %v", c.Now())
	}
	if tb.Stop() {
		t.Fatal("Stop of a fired timer reported true")
	}
	if tb.Reset(time.Second) {
		t.Fatal("Reset of a fired timer reported true")
	}
	c.Advance(time.Second)
	if got[len(got)-1] != "b" {
		t.Fatalf("reset timer did not fire: %v", got)
	}
}

func TestFakeFiresTimersSetByCallbacksWithinOneAdvance(t *testing.T) {
	c := NewFake(t0)
	n := 0
	var tick func()
	tick = func() {
		n++
		if n < 5 {
			c.AfterFunc(time.Second, tick)
		}
	}
	c.AfterFunc(time.Second, tick)
	c.Advance(time.Minute)
	if n != 5 {
		t.Fatalf("ticks = %d, want 5", n)
	}
}

func TestRealTimerFires(t *testing.T) {
	done := make(chan struct{})
	(Real{}).AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if (Real{}).Now().IsZero() {
		t.Fatal("zero Now")
	}
}

func TestSleepReturnsAfterTheDurationOnTheClock(t *testing.T) {
	c := NewFake(t0)
	done := make(chan error, 1)
	go func() { done <- Sleep(context.Background(), c, time.Second, nil) }()
	// Advance only once the sleep's timer is pending.
	for c.Pending() == 0 {
		runtime.Gosched()
		select {
		case err := <-done:
			t.Fatalf("Sleep returned %v before the clock moved", err)
		default:
		}
	}
	c.Advance(999 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Sleep returned %v a millisecond early", err)
	default:
	}
	c.Advance(time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("Sleep = %v, want nil", err)
	}
}

func TestSleepStopsOnContextAndStop(t *testing.T) {
	c := NewFake(t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, c, time.Hour, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep with a canceled context = %v", err)
	}
	stop := make(chan struct{})
	close(stop)
	if err := Sleep(context.Background(), c, time.Hour, stop); !errors.Is(err, ErrStopped) {
		t.Fatalf("Sleep with a closed stop = %v", err)
	}
	if n := c.Pending(); n != 0 {
		t.Fatalf("%d timers left pending after Sleep gave up", n)
	}
	if err := Sleep(context.Background(), c, 0, nil); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), c, 0, stop); !errors.Is(err, ErrStopped) {
		t.Fatalf("Sleep(0) with a closed stop = %v", err)
	}
}
