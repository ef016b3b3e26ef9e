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
	b, ok := Lookup(name)
	if !ok {
		t.Fatalf("containers: unknown server %q", name)
	}
	if !Enabled() {
		t.Skipf("opt-in: run with %s=1 and a Docker engine (install docker.io or Docker Desktop) to test against a %s container (%s)", EnableEnv, b.Name, b.Image)
	}
	if err := DockerAvailable(t.Context()); err != nil {
		testenv.Unavailable(t, "Docker", err, "or unset "+EnableEnv+" to skip the container tests")
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

// SkipsWithoutDocker checks the no-Docker path of a container test: it
// runs test as a subtest with PORTMQ_TEST_CONTAINERS=1, no Docker engine
// reachable (DOCKER_HOST at a socket that does not exist) and
// PORTMQ_REQUIRE_SERVERS unset, and fails t unless test skipped before it
// did anything else. t must not be parallel.
func SkipsWithoutDocker(t *testing.T, test func(*testing.T)) {
	t.Helper()
	t.Setenv(EnableEnv, "1")
	t.Setenv(testenv.RequireServersEnv, "")
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/no-docker.sock")
	if DockerAvailable(t.Context()) == nil {
		t.Skip("a Docker engine answers even with DOCKER_HOST pointing nowhere: this checks machines without one")
	}
	var skipped, finished bool
	t.Run("without-docker", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		test(t)
		finished = true
	})
	if !skipped || finished {
		t.Errorf("the container test did not skip without Docker (skipped %v, ran to the end %v)", skipped, finished)
	}
}
