package mq

import (
	"testing"
	"time"
)

func TestBackoffGrowsExponentiallyWithJitterAndCaps(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	cases := []struct {
		attempt  int
		lo, high time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{5, 500 * time.Millisecond, time.Second},
		{50, 500 * time.Millisecond, time.Second},
	}
	for _, tc := range cases {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Delay(tc.attempt)
			if d < tc.lo || d > tc.high {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", tc.attempt, d, tc.lo, tc.high)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct delays: no jitter", tc.attempt, len(seen))
		}
	}
	if d := (Backoff{}).Delay(3); d != 0 {
		t.Errorf("zero backoff gave %v", d)
	}
}
