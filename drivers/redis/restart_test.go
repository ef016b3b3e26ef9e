package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
)

// persistentServer is a redis-server of the test's own, on a free port,
// with an append-only file fsynced on every write: unlike the shared test
// server, which keeps nothing on disk, it keeps acknowledged sends across
// a restart, which is what rule 15 asks of a broker.
type persistentServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startPersistentServer(t *testing.T) *persistentServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		// The shared server's check (serverURL) already decided whether
		// a missing Redis skips or fails; this one needs the binary.
		t.Skipf("redis-server not found (%v): install redis-server to run the restart case", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &persistentServer{t: t, port: port, dir: t.TempDir()}
	must(t, s.start(context.Background()))
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

func (s *persistentServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *persistentServer) start(ctx context.Context) error {
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", s.dir, "--daemonize", "no", "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		return err
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	wait := 10 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redis-server on %s did not answer: %w", s.addr(), err)
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// restart shuts the server down (SHUTDOWN: the AOF is flushed) and
// starts it again on the same port and files.
func (s *persistentServer) restart(ctx context.Context) error {
	c := goredis.NewClient(&goredis.Options{Addr: s.addr(), MaxRetries: -1})
	err := c.Shutdown(ctx).Err()
	_ = c.Close()
	if err != nil && !errors.Is(err, goredis.Nil) && !isConnGone(err) {
		return fmt.Errorf("SHUTDOWN: %w", err)
	}
	old := s.cmd.Process.Pid
	_ = s.cmd.Wait()
	s.cmd = nil
	if err := s.start(ctx); err != nil {
		return err
	}
	s.t.Logf("restarted redis-server on %s: pid %d, then %d", s.addr(), old, s.cmd.Process.Pid)
	return nil
}

func isConnGone(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || err.Error() == "EOF" || errors.Is(err, net.ErrClosed)
}

// TestConformanceRestart runs the cases that restart the broker
// (ConsumerSurvivesBrokerRestart, and ConsumerRidesOutCutAndRestart,
// which also cuts the network through a fault proxy) against a persistent
// server of its own; the other cases run in TestConformance against the
// shared server.
func TestConformanceRestart(t *testing.T) {
	serverURL(t) // skips or fails as the shared server's tests do
	srv := startPersistentServer(t)
	base := "redis://" + srv.addr() + "/0?prefix=portmq-restart"
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	skip := map[string]string{}
	for _, c := range conformance.Cases() {
		if c.Name != "ConsumerSurvivesBrokerRestart" && c.Name != "ConsumerRidesOutCutAndRestart" {
			skip[c.Name] = "run by TestConformance against the shared server"
		}
	}
	conformance.Run(t, conformance.Harness{
		Name:      "redis-aof",
		Provision: provision(base, proxied),
		Lease:     confLease,
		Restart:   srv.restart,
		Cut:       cut,
		Skip:      skip,
	})
}
