package wmportmq_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
)

// TestMain holds the RabbitMQ broker lock shared (the amqp runs use the
// shared broker; a test elsewhere that restarts it waits for this
// package), closes the GoChannel behind watermill+wmloop:// (which ends
// the goroutines it keeps for subscriptions), and checks for leaked
// goroutines.
func TestMain(m *testing.M) {
	l, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wmportmq tests: cannot take the broker lock:", err)
		os.Exit(2)
	}
	code := m.Run()
	_ = l.Unlock()
	if err := loopGoChannel.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the GoChannel of watermill+wmloop:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
