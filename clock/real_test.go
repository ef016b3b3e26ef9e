package clock

import (
	"testing"
	"time"
)

func TestNowFollowsTimeNow(t *testing.T) {
	a := time.Now()
	n := Real{}.Now()
	b := time.Now()
	if n.Before(a) || n.After(b) {
		t.Fatalf("Real.Now() = %v, not between %v and %v", n, a, b)
	}
	// The wall part agrees with time.Now to well within a second (no step
	// of the system clock happens during a test).
	if d := n.Round(0).Sub(b.Round(0)); d > time.Second || d < -time.Second {
		t.Fatalf("wall part of Real.Now() is %v away from time.Now()", d)
	}
}

func TestNowIsMonotonic(t *testing.T) {
	prev := Real{}.Now()
	for range 10000 {
		n := Real{}.Now()
		if n.Before(prev) {
			t.Fatalf("Now went backwards: %v after %v", n, prev)
		}
		prev = n
	}
}

func BenchmarkNow(b *testing.B) {
	for range b.N {
		_ = Real{}.Now()
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for range b.N {
		_ = time.Now()
	}
}
