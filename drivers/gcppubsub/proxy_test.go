package gcppubsub

import (
	"context"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance/faultproxy"
)

// startProxy puts a fault proxy in front of a Pub/Sub server (pstest or
// the emulator): its outages stand in for broker restarts (the server
// keeps its state in process, as a restarted broker keeps its durable
// state) and its cuts for network cuts.
func startProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// outage is a Harness.Restart: every connection dropped and new ones
// refused for d.
func outage(p *faultproxy.Proxy, d time.Duration) func(context.Context) error {
	return func(ctx context.Context) error { return p.Outage(ctx, d) }
}
