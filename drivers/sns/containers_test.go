package sns_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
)

// TestConformanceContainer runs the suite against LocalStack's SNS and
// SQS in a Docker container (PORTMQ_TEST_CONTAINERS=1; see package
// containers), with sns:// URLs.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "sns")
	s := &sqstest.Server{Endpoint: "http://" + srv.Addr(), Region: containers.LocalStackRegion}
	h, release, err := s.Harness("sns-localstack", sqstest.SNS)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	conformance.Run(t, h)
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
