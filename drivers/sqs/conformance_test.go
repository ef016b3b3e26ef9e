package sqs_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	_ "github.com/portmq/portmq/drivers/sns" // fan-out cases go through SNS
	_ "github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformance runs the whole suite against moto (or the endpoint in
// PORTMQ_TEST_SQS_ENDPOINT) with sqs:// URLs: standard queues, FIFO queues
// for the ordering and dedup cases, and an SNS topic in front of the
// queues for the fan-out case.
func TestConformance(t *testing.T) {
	srv := sqstest.Shared(t)
	h, release, err := srv.Harness("sqs", sqstest.SQS)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	conformance.Run(t, h)
}
