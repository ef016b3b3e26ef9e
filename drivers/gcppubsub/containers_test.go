package gcppubsub

import (
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/mq"
)

// TestConformanceContainer runs the suite against Google's Pub/Sub
// emulator in a Docker container (PORTMQ_TEST_CONTAINERS=1; see package
// containers), through the outage proxy, as TestConformanceExternal does
// against an emulator started by hand.
func TestConformanceContainer(t *testing.T) {
	srv := containers.ForTest(t, "pubsub")
	const lease = 2 * time.Second
	px := startProxy(t, srv.Addr())
	mux := new(mq.URLMux)
	mux.Register(Scheme, &URLOpener{ClientOptions: emulatorOptions(px.Addr())})
	conformance.Run(t, conformance.Harness{
		Name:        "gcppubsub-container",
		Mux:         mux,
		Provision:   provisioner(mux, containers.PubSubProject),
		Lease:       lease,
		Granularity: time.Second,
		Restart:     outage(px, 2*lease),
		Cut:         px.CutContext,
		Skip: map[string]string{
			"SubscriptionShutdownHandsBackAndCloses": emulatorCloseHandBack,
			"ConsumerRidesOutCutAndRestart":          emulatorLostAfterFaults,
		},
	})
}

func TestConformanceContainerSkipsWithoutDocker(t *testing.T) {
	containers.SkipsWithoutDocker(t, TestConformanceContainer)
}
