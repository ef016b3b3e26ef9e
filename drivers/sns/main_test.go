package sns_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestMain stops the moto server the tests started (sqstest.Shared) and
// then checks that no goroutine was left behind.
func TestMain(m *testing.M) {
	code := m.Run()
	sqstest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
