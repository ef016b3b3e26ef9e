package containers

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/portmq/portmq/internal/testenv"
)

// ForTest starts the server named name for t and terminates it when t
// ends, setting the client environment the server needs (for example
// PUBSUB_EMULATOR_HOST) for t with t.Setenv, so t must not be parallel.
//
// It skips t unless PORTMQ_TEST_CONTAINERS=1. With it and no Docker
// engine, it ends t through testenv.Unavailable: a skip saying what to
// install, or a failure when PORTMQ_REQUIRE_SERVERS=1.
func ForTest(t *testing.T, name string) *Server {
	t.Helper()
	if _, ok := Lookup(name); !ok {
		t.Fatalf("containers: unknown server %q", name)
	}
	if !Enabled() {
		t.Skipf("opt-in: set %s=1 with a Docker engine to run against a %s container (%s)", EnableEnv, name, HowToInstall)
	}
	if err := DockerAvailable(t.Context()); err != nil {
		testenv.Unavailable(t, "Docker", err, HowToInstall)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // pull and start
	defer cancel()
	s, err := Start(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Terminate(ctx); err != nil {
			t.Errorf("containers: terminate %s: %v", name, err)
		}
	})
	for k, v := range s.Env() {
		if os.Getenv(k) == "" || k == "PUBSUB_EMULATOR_HOST" {
			t.Setenv(k, v)
		}
	}
	return s
}
