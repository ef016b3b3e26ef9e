package sqs_test

import (
	"testing"

	_ "github.com/portmq/portmq/drivers/sns" // fan-out cases go through SNS
	_ "github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformance runs the whole suite against moto (or the endpoint in
// PORTMQ_TEST_SQS_ENDPOINT) with sqs:// URLs: standard queues, FIFO queues
// for the ordering and dedup cases, and an SNS topic in front of the
// queues for the fan-out case.
func TestConformance(t *testing.T) {
	t.Parallel()
	sqstest.RunConformance(t, "sqs", sqstest.SQS)
}
