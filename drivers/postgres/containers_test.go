package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/conformance/faultproxy"
)

// containerSchema is the container run's own schema: not the local
// server's testSchema, which TestMain drops there.
var containerSchema = strings.Replace(testSchema, "portmq_t", "portmq_c", 1)

// TestConformanceContainer runs the suite against PostgreSQL in a Docker
// container (PORTMQ_TEST_CONTAINERS=1; see package containers), through a
// fault proxy for the cut cases. The container is not restarted: the
// restart case (connections terminated by the server) is TestConformance's
// on the local server.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "postgres")
	base := withQuery(srv.URL("postgres"), "schema", containerSchema)
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "postgres-container",
		Provision: provision(base, proxied),
		Lease:     time.Second,
		Cut:       cut,
	})
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
