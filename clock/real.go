package clock

import "time"

// Real is the Clock of package time. Its zero value is ready to use.
type Real struct{}

// Now returns the current time at half the cost of time.Now, which
// matters on the hot paths of mq and memdriver.
//
// time.Now reads two clocks (wall and monotonic). Now reads only the
// monotonic clock and adds the elapsed time to a wall reading taken when
// the process started, so it returns a time.Time with a monotonic reading,
// which Before, After, Sub and Equal use whenever both operands have one
// (any time.Now value does). Its wall part does not follow steps of the
// system clock made after start; only comparisons of times stripped of
// their monotonic reading (after Round, Truncate, UTC or serialization)
// see that.
func (Real) Now() time.Time { return base.Add(time.Since(base)) }

var base = time.Now()

// AfterFunc returns time.AfterFunc(d, f).
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
