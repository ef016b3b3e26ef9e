package gocloud_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
)

// goCDKReceiveLeak ignores a goroutine the Go CDK (v0.47.0) leaks, not
// this package: when a background ReceiveBatch of a pubsub.Subscription
// returns messages after the Receive call that started it gave up (its
// context ended), the goroutine blocks sending on an unbuffered channel
// that only a later Receive reads (pubsub.go, Subscription.Receive). After
// Shutdown no Receive reads it, so it stays blocked. mempubsub's
// ReceiveBatch, which ignores its context once it found messages, hits
// it; a driver cannot reach the channel.
var goCDKReceiveLeak = goleak.IgnoreTopFunction("gocloud.dev/pubsub.(*Subscription).Receive.func2")

// TestMain holds the RabbitMQ broker lock shared for the whole run, so
// that another package's test that restarts the broker waits for these
// tests, and checks for leaked goroutines at the end.
func TestMain(m *testing.M) {
	if os.Getenv("RABBIT_SERVER_URL") == "" {
		// The Go CDK's rabbit driver (and so gocloud+rabbit) reads it.
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
		if err := goleak.Find(goCDKReceiveLeak); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
