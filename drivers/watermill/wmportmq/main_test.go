package wmportmq_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
)

// TestMain holds the RabbitMQ broker lock shared (the amqp runs use the
// shared broker; a test elsewhere that restarts it waits for this package)
// and checks for leaked goroutines.
func TestMain(m *testing.M) {
	l, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wmportmq tests: cannot take the broker lock:", err)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = l.Unlock() }))
}
