package rabbitmq_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/conformance/faultproxy"
)

// TestConformanceContainer runs the suite against RabbitMQ in a Docker
// container (PORTMQ_TEST_CONTAINERS=1; see package containers), through a
// fault proxy for the cut cases. The container is not restarted: the
// reconnect case is left to TestConformance on the local server.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "rabbitmq")
	base := srv.URL("rabbitmq")
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "rabbitmq-container",
		Provision: provision(base, proxied),
		Lease:     confLease,
		Cut:       cut,
	})
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
