package gocloud_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
)

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
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
