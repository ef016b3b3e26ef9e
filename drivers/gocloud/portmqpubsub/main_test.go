package portmqpubsub

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, ignoring one the Go CDK
// (v0.47.0) leaks, not this package: when a background ReceiveBatch of a
// pubsub.Subscription returns messages while the Receive calls take
// earlier ones from its queue, the goroutine blocks sending on an
// unbuffered channel that only a later Receive that finds the queue empty
// reads (pubsub.go, Subscription.Receive). If the last Receive gives up
// (its context ends) or Shutdown comes first, nothing reads it. A driver
// cannot reach the channel; it happens with mempubsub as well.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("gocloud.dev/pubsub.(*Subscription).Receive.func2"))
}
