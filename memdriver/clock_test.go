package memdriver

import (
	"slices"
	"testing"
	"time"
)

func TestFakeClockFiresTimersInDeadlineOrderAtTheirDeadline(t *testing.T) {
	c := NewFakeClock(t0)
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

func TestFakeClockFiresTimersSetByCallbacksWithinOneAdvance(t *testing.T) {
	c := NewFakeClock(t0)
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

func TestRealClockTimerFires(t *testing.T) {
	done := make(chan struct{})
	(RealClock{}).AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if (RealClock{}).Now().IsZero() {
		t.Fatal("zero Now")
	}
}
