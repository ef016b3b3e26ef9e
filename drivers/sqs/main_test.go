package sqs_test

import (
	"os"
	"testing"

	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestMain stops the moto server the tests started (sqstest.Shared) and
// then checks, with go.uber.org/goleak, that no goroutine was left
// behind.
func TestMain(m *testing.M) { os.Exit(sqstest.Main(m)) }
