package sqs_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// localStack returns an sqstest server on a LocalStack container
// (PORTMQ_TEST_CONTAINERS=1; see package containers).
func localStack(t *testing.T) *sqstest.Server {
	srv := containers.ForTest(t, "sqs")
	return &sqstest.Server{Endpoint: "http://" + srv.Addr(), Region: containers.LocalStackRegion}
}

// TestConformanceContainer runs the suite against LocalStack's SQS, with
// standard and with FIFO queues, through the fault proxy sqstest puts in
// front of an endpoint.
func TestConformanceContainer(t *testing.T) {
	s := localStack(t)
	for name, mode := range map[string]sqstest.Mode{"standard": sqstest.SQS, "fifo": sqstest.FIFO} {
		t.Run(name, func(t *testing.T) {
			h, release, err := s.Harness("sqs-localstack-"+name, mode)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			conformance.Run(t, h)
		})
	}
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
