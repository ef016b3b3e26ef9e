package sqs_test

import (
	"testing"

	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformanceFIFO runs the whole suite again with FIFO queues (and
// FIFO topics for fan-out) for every case: one message in flight per
// group, Delay emulated by mq, generated group and deduplication IDs for
// messages without Key or DedupID.
func TestConformanceFIFO(t *testing.T) {
	t.Parallel()
	sqstest.RunConformance(t, "sqs-fifo", sqstest.FIFO)
}
