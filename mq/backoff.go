package mq

import (
	"math/rand/v2"
	"time"
)

// Backoff computes retry delays: exponential from Min, doubling per
// attempt, capped at Max, with "equal jitter" (a random value between half
// the step and the step) so that failing consumers do not retry in
// lock-step.
type Backoff struct {
	Min, Max time.Duration
}

// DefaultBackoff is the Consumer's default: 1 s doubling to 5 min.
var DefaultBackoff = Backoff{Min: time.Second, Max: 5 * time.Minute}

// Delay returns the delay before retrying after the given failed attempt
// (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Min <= 0 {
		return 0
	}
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}
