package redis_test

import (
	"testing"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/conformance/faultproxy"
)

// TestConformanceContainer runs the suite against Redis in a Docker
// container (PORTMQ_TEST_CONTAINERS=1; see package containers), through a
// fault proxy for the cut cases. The container keeps nothing on disk and
// is not restarted: the restart case is TestConformanceRestart's.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "redis")
	base := withQuery(srv.URL("redis"), "prefix", newPrefix())
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "redis-container",
		Provision: provision(base, proxied),
		Lease:     confLease,
		Cut:       cut,
	})
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
