package sns_test

import (
	"testing"

	_ "github.com/portmq/portmq/drivers/sns"
	_ "github.com/portmq/portmq/drivers/sqs" // dead-letter queues are read with sqs:// URLs
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformance runs the whole suite against moto (or the endpoint in
// PORTMQ_TEST_SQS_ENDPOINT) with sns:// URLs: every case's topic is an SNS
// topic (FIFO for the ordering and dedup cases) and each subscription an
// SQS queue subscribed to it with raw message delivery.
func TestConformance(t *testing.T) { sqstest.RunConformance(t, "sns", sqstest.SNS) }
