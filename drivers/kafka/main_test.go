package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/mq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokersEnv names a real cluster to run the tests against as well.
const brokersEnv = "PORTMQ_TEST_KAFKA_BROKERS"

// testLease is the lease the conformance suite runs with against kfake.
const testLease = 500 * time.Millisecond

// lockDuration is the share groups' acquisition lock in the test cluster:
// longer than testLease, shorter than the longest lease the suite keeps
// extended, so that renewals are exercised.
const lockDuration = 2 * time.Second

// cluster is an in-process kfake cluster that can be restarted on the
// same port with its data kept (rule 15).
type cluster struct {
	mu   sync.Mutex
	c    *kfake.Cluster
	port int
	dir  string
	// proxy, when set, stands between clients and the broker (for Cut):
	// the broker listens on realPort and advertises the proxy's address.
	proxy    *faultproxy.Proxy
	realPort int
}

func clusterOpts(port int, dir string) []kfake.Opt {
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(dir),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.BrokerConfigs(map[string]string{
			"share.record.lock.sweep.interval.ms": "50",
			"group.share.heartbeat.interval.ms":   "100",
			"group.share.session.timeout.ms":      "3000",
			"group.share.record.lock.duration.ms": strconv.Itoa(int(lockDuration / time.Millisecond)),
		}),
	}
	if port > 0 {
		opts = append(opts, kfake.Ports(port))
	}
	return opts
}

// startCluster starts a kfake cluster for the test, closed at its end.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := kfake.NewCluster(clusterOpts(0, dir)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	_, port, _ := net.SplitHostPort(c.ListenAddrs()[0])
	p, _ := strconv.Atoi(port)
	cl := &cluster{c: c, port: p, dir: dir}
	t.Cleanup(func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		cl.c.Close()
	})
	return cl
}

// startProxiedCluster starts a kfake cluster behind a fault proxy: the
// broker advertises the proxy's address, so every client connection goes
// through it and Cut resets them all.
func startProxiedCluster(t testing.TB) *cluster {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	realAddr := ln.Addr().String()
	_ = ln.Close()
	p, err := faultproxy.Start(realAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(realAddr)
	realPort, _ := strconv.Atoi(port)
	dir := t.TempDir()
	cl := &cluster{dir: dir, proxy: p, realPort: realPort}
	c, err := kfake.NewCluster(cl.opts(0)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	cl.c = c
	_, port, _ = net.SplitHostPort(c.ListenAddrs()[0])
	cl.port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		cl.c.Close()
		_ = p.Close()
	})
	return cl
}

// opts are the cluster's options for a start on port.
func (c *cluster) opts(port int) []kfake.Opt {
	if c.proxy == nil {
		return clusterOpts(port, c.dir)
	}
	real, advertised := c.realPort, c.proxy.Addr()
	return append(clusterOpts(0, c.dir), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, "127.0.0.1:"+strconv.Itoa(real))
		if err != nil {
			return nil, err
		}
		return advertisedListener{ln, advertised}, nil
	}))
}

// advertisedListener reports another address than its own, so that kfake
// advertises the fault proxy in front of it.
type advertisedListener struct {
	net.Listener
	addr string
}

func (l advertisedListener) Addr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", l.addr)
	return a
}

// cut resets every connection to the broker and refuses new ones for d.
func (c *cluster) cut(ctx context.Context, d time.Duration) error {
	return c.proxy.CutContext(ctx, d)
}

func (c *cluster) addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.c.ListenAddrs(), ",")
}

// restart closes the cluster and starts it again on the same port with
// its persisted data.
func (c *cluster) restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.Close()
	var err error
	for {
		if c.c, err = kfake.NewCluster(c.opts(c.port)...); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restart kfake: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// realBrokers returns the real cluster named by PORTMQ_TEST_KAFKA_BROKERS,
// or skips: the suite always runs against kfake, so a real cluster is an
// opt-in extra and its absence is no failure, even in CI.
func realBrokers(t *testing.T) string {
	t.Helper()
	b := os.Getenv(brokersEnv)
	if b == "" {
		t.Skip(brokersEnv + " is not set: the suite ran against kfake only; set it to host:port[,host:port] to run it against a real Kafka 4.x cluster too")
	}
	return b
}

// testParams are the subscription parameters the tests use to make group
// membership changes quick against kfake.
var testParams = url.Values{
	"idle_leave":         {"300ms"},
	"heartbeat_interval": {"100ms"},
	"session_timeout":    {"3s"},
	"fetch_max_wait":     {"200ms"},
	"commit_interval":    {"200ms"},
}

// provisioner returns a conformance Provision function for brokers in
// mode.
func provisioner(brokers string, mode Mode) func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	return func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		base := "kafka://" + brokers + "/"
		a, err := mq.OpenAdmin(ctx, base+"?mode="+mode.String())
		if err != nil {
			return nil, err
		}
		defer a.Close()
		topic := spec.Name
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
			return nil, err
		}
		res := &conformance.Resources{TopicURL: base + topic}
		var subs []string
		for i := range spec.Subscriptions {
			sub := fmt.Sprintf("%s-s%d", topic, i)
			if i == 0 && spec.SubscriptionName != "" {
				sub = spec.SubscriptionName
			}
			if err := a.CreateSubscription(ctx, topic, sub, mq.SubscriptionConfig{}); err != nil {
				return nil, err
			}
			subs = append(subs, sub)
			q := url.Values{}
			for k, v := range testParams {
				q[k] = v
			}
			q.Set("subscription", sub)
			q.Set("mode", mode.String())
			q.Set("lease", spec.Lease.String())
			if spec.MaxAttempts > 0 {
				q.Set("max_attempts", strconv.Itoa(spec.MaxAttempts))
			}
			if spec.Ordered && mode == GroupMode {
				// Share groups cannot order (the capability says so and
				// the cases skip); ordered=true would fail the open.
				q.Set("ordered", "true")
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, base+topic+"?"+q.Encode())
		}
		if spec.DeadLetter {
			q := url.Values{}
			for k, v := range testParams {
				q[k] = v
			}
			q.Set("subscription", subs[0]+"-dlq-reader")
			q.Set("start", "earliest")
			res.DeadLetterURL = base + topic + ".dlq." + subs[0] + "?" + q.Encode()
		}
		res.Cleanup = func(ctx context.Context) error {
			a, err := mq.OpenAdmin(ctx, base)
			if err != nil {
				return err
			}
			var errs []error
			for _, s := range subs {
				errs = append(errs, a.DeleteSubscription(ctx, topic, s), a.DeleteTopic(ctx, topic+".dlq."+s))
			}
			errs = append(errs, a.DeleteTopic(ctx, topic), a.Close())
			return errors.Join(errs...)
		}
		return res, nil
	}
}
