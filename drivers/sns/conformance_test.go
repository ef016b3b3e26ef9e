package sns_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	_ "github.com/portmq/portmq/drivers/sns"
	_ "github.com/portmq/portmq/drivers/sqs" // dead-letter queues are read with sqs:// URLs
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformance runs the whole suite against moto (or the endpoint in
// PORTMQ_TEST_SQS_ENDPOINT) with sns:// URLs: every case's topic is an SNS
// topic (FIFO for the ordering and dedup cases) and each subscription an
// SQS queue subscribed to it with raw message delivery.
func TestConformance(t *testing.T) {
	srv := sqstest.Shared(t)
	h, release, err := srv.Harness("sns", sqstest.SNS)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	conformance.Run(t, h)
}
