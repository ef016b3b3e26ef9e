package kafka

import (
	"testing"

	"github.com/portmq/portmq/conformance"
)

// TestConformance runs the whole suite against kfake in consumer-group
// mode and in share-group mode.
func TestConformance(t *testing.T) {
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := startProxiedCluster(t)
			conformance.Run(t, conformance.Harness{
				Name:      "kafka-" + mode.String(),
				Provision: provisioner(c.addr(), mode),
				Lease:     testLease,
				Restart:   c.restart,
				Cut:       c.cut,
			})
		})
	}
}

// TestConformanceRealCluster runs the suite against the cluster named by
// PORTMQ_TEST_KAFKA_BROKERS.
func TestConformanceRealCluster(t *testing.T) {
	brokers := realBrokers(t)
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			conformance.Run(t, conformance.Harness{
				Name:      "kafka-" + mode.String() + "-real",
				Provision: provisioner(brokers, mode),
				Lease:     5 * testLease,
			})
		})
	}
}
