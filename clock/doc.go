// Package clock is portmq's one source of time. Every lease, delay,
// backoff, hold and deadline portmq keeps itself is measured with a
// [Clock]: package mq's handles and Consumer take one (mq.WithClock,
// URLMux.SetClock), and memdriver's Engine takes one in its Options. mq
// uses the driver's clock when the driver exposes one, so that a memdriver
// Engine on a [Fake] and the mq handles over it read the same time.
//
// [Real] is the clock of package time, with a Now that costs half of
// time.Now. [Fake] is a clock whose time moves only when a test calls
// [Fake.Advance], which fires due timers synchronously, so time-dependent
// behaviour is tested without sleeping.
//
// A Clock does not govern context deadlines: a deadline set on a context
// (by the user, or with context.WithTimeout) runs on real time. Tests that
// need those fake too run inside a testing/synctest bubble, where package
// time, and so Real, is fake.
package clock
