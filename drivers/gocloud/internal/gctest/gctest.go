// Package gctest holds what the tests of drivers/gocloud and its
// portmqpubsub share.
package gctest

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
)

// GoCDKReceiveLeak ignores a goroutine the Go CDK (v0.47.0) leaks, not
// portmq: when a background ReceiveBatch of a pubsub.Subscription returns
// messages while Receive calls take earlier ones from its queue, the
// goroutine blocks sending on an unbuffered channel that only a later
// Receive that finds the queue empty reads (pubsub.go,
// Subscription.Receive). If the last Receive gives up (its context ends)
// or Shutdown comes first, nothing reads it. A driver cannot reach the
// channel; it happens with the Go CDK's own mempubsub as well.
var GoCDKReceiveLeak = goleak.IgnoreTopFunction("gocloud.dev/pubsub.(*Subscription).Receive.func2")

// Main runs a package's tests holding the RabbitMQ broker lock shared (so
// that another package's test that restarts the shared broker waits for
// them), then checks for leaked goroutines, and exits. It sets
// RABBIT_SERVER_URL, which the Go CDK's rabbit driver reads, to the test
// broker when it is unset.
func Main(m *testing.M) {
	if os.Getenv("RABBIT_SERVER_URL") == "" {
		os.Setenv("RABBIT_SERVER_URL", testenv.RabbitMQURL())
	}
	lock, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock the RabbitMQ broker:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = lock.Unlock()
	if code == 0 {
		if err := goleak.Find(GoCDKReceiveLeak); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
