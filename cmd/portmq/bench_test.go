package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

type benchJSON struct {
	URL                  string
	Subscription         string `json:"subscription_url"`
	Sent, Received, Lost int64
	Errors               int64
	SendRate             float64     `json:"send_msgs_per_s"`
	ReceiveRate          float64     `json:"receive_msgs_per_s"`
	Send                 jsonLatency `json:"send_latency_ms"`
	E2E                  jsonLatency `json:"end_to_end_latency_ms"`
}

// runBench runs bench with -json and checks what every run must show:
// all sent messages received, quantiles in order, and the scratch
// resources gone.
func runBench(t *testing.T, admin string, args ...string) benchJSON {
	t.Helper()
	code, out, errs := runCmd(t, "", append([]string{"bench", admin, "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench: exit %d, stderr %s\nstdout %s", code, errs, out)
	}
	var r benchJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench -json printed %q: %v", out, err)
	}
	if r.Sent == 0 || r.Received != r.Sent || r.Lost != 0 || r.Errors != 0 {
		t.Errorf("sent %d, received %d, lost %d, errors %d: want all received", r.Sent, r.Received, r.Lost, r.Errors)
	}
	for _, l := range []jsonLatency{r.Send, r.E2E} {
		if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
			t.Errorf("latency quantiles out of order or zero: %+v", l)
		}
	}
	if r.SendRate <= 0 || r.ReceiveRate <= 0 {
		t.Errorf("rates %v, %v", r.SendRate, r.ReceiveRate)
	}
	if strings.Contains(out, "guest:guest") {
		t.Errorf("password in output: %s", out)
	}
	// The subscription was deleted: deleting it again fails.
	topic, sub := names(t, r.Subscription)
	a, err := mq.OpenAdmin(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.DeleteSubscription(context.Background(), topic, sub); err == nil {
		t.Errorf("subscription %s of %s was still there after bench", sub, topic)
	}
	return r
}

func TestBenchOnMem(t *testing.T) {
	r := runBench(t, "mem://", "-count", "3000", "-producers", "2", "-consumers", "2", "-size", "100")
	if r.Sent != 3000 {
		t.Errorf("-count 3000 sent %d", r.Sent)
	}
	r = runBench(t, "mem://", "-count", "3000", "-batch", "100")
	if r.Sent != 3000 {
		t.Errorf("-count 3000 -batch 100 sent %d", r.Sent)
	}
	code, out, _ := runCmd(t, "", "bench", "mem://", "-duration", "200ms")
	for _, want := range []string{"bench mem://: 1 producers, 1 consumers, 1024-byte bodies", "msgs/s", "p99.9", "end-to-end", "lost 0, errors 0"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("bench table (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
}

func TestBenchRateLimitsTheSends(t *testing.T) {
	start := time.Now()
	r := runBench(t, "mem://", "-count", "20", "-rate", "40")
	if d := time.Since(start); d < 450*time.Millisecond || r.Sent != 20 {
		t.Errorf("20 messages at -rate 40: %d in %v, want 20 in at least 475ms", r.Sent, d)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"bench"}, {"bench", "mem://", "-size", "8"}, {"bench", "mem://", "-batch", "0"}, {"bench", "mem://", "-duration", "0"}} {
		if code, _, _ := runCmd(t, "", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	code, _, errs := runCmd(t, "", "bench", "nosuch://x")
	if code != 1 || !strings.Contains(errs, "-topic-url") {
		t.Errorf("unknown scheme: exit %d, %q; want 1 and a pointer to -topic-url", code, errs)
	}
}

// rabbitmq returns the test server's URL, skipping when it is absent.
func rabbitmq(t *testing.T) string {
	t.Helper()
	u := testenv.RabbitMQURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := mq.OpenAdmin(ctx, u)
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	a.Close()
	l, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		t.Fatal(err)
	}
	sharedLocks[t.Name()] = l
	t.Cleanup(func() { releaseShared(t) })
	return u
}

// sharedLocks are the shared broker locks rabbitmq took, by test.
var sharedLocks = map[string]*testenv.BrokerLock{}

// releaseShared gives up the test's shared broker lock.
func releaseShared(t *testing.T) {
	if l := sharedLocks[t.Name()]; l != nil {
		l.Unlock()
		delete(sharedLocks, t.Name())
	}
}

func TestBenchOnRabbitMQ(t *testing.T) {
	u := rabbitmq(t)
	runBench(t, u, "-count", "500", "-batch", "50", "-size", "256")
	runBench(t, u, "-count", "100", "-producers", "2", "-consumers", "2")
}

// names returns the topic and subscription a mem:// or amqp://
// subscription URL names.
func names(t *testing.T, subURL string) (topic, sub string) {
	u, err := url.Parse(subURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme == "mem" {
		return u.Host, strings.TrimPrefix(u.Path, "/")
	}
	return u.Query().Get("topic"), u.Query().Get("subscription")
}
