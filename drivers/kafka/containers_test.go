package kafka

import (
	"strings"
	"testing"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
)

// TestConformanceContainer runs the suite against Apache Kafka in a
// Docker container (PORTMQ_TEST_CONTAINERS=1; see package containers), in
// consumer-group and share-group mode, with the lease of
// TestConformanceRealCluster.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "kafka")
	brokers := strings.TrimSuffix(strings.TrimPrefix(srv.URL("kafka"), "kafka://"), "/")
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			conformance.Run(t, conformance.Harness{
				Name:      "kafka-" + mode.String() + "-container",
				Provision: provisioner(brokers, mode),
				Lease:     5 * testLease,
			})
		})
	}
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
