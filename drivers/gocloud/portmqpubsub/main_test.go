package portmqpubsub

import (
	"testing"

	"github.com/portmq/portmq/drivers/gocloud/internal/gctest"
)

// TestMain holds the RabbitMQ broker lock (the portmq+amqp tests use the
// shared broker) and checks for leaked goroutines (see gctest.Main).
func TestMain(m *testing.M) { gctest.Main(m) }
