package driver

import "github.com/portmq/portmq/clock"

// Clocked is implemented by a Topic or Subscription whose backend keeps
// time on a clock of its own that portmq can read (memdriver's Engine
// clock, which a test may make a clock.Fake). mq measures its leases,
// delays, backoffs and holds over such a handle with that clock, unless
// the user gave one (mq.WithClock), so that the deadlines the driver
// reports and mq's own readings agree. A backend on real time need not
// implement it.
type Clocked interface {
	// Clock returns the clock the backend measures the handle's deadlines
	// with. It must not return nil.
	Clock() clock.Clock
}
