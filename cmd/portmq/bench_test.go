package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

type benchJSON struct {
	URL                  string
	Subscription         string `json:"subscription_url"`
	Producers, Batch     int
	Inflight             int
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

func TestBenchDefaultInflightIsOneBatchOnMemAndAWindowElsewhere(t *testing.T) {
	for _, tc := range []struct {
		url          string
		batch, wantN int
	}{
		{"mem://", 1, 1},
		{"mem://", 100, 100},
		{"amqp://localhost/", 1, 500},
		{"amqp://localhost/", 100, 500},
		{"amqp://localhost/", 300, 300},
		{"amqp://localhost/", 2000, 2000},
		{"kafka://localhost:9092/", 7, 497},
	} {
		if got := defaultInflight(tc.url, tc.batch); got != tc.wantN {
			t.Errorf("defaultInflight(%q, %d) = %d, want %d", tc.url, tc.batch, got, tc.wantN)
		}
	}
	r := runBench(t, "mem://", "-count", "1000")
	if r.Batch != 1 || r.Inflight != 1 {
		t.Errorf("mem:// defaults: batch %d, inflight %d; want 1, 1", r.Batch, r.Inflight)
	}
	r = runBench(t, "mem://", "-count", "1000", "-batch", "50")
	if r.Inflight != 50 {
		t.Errorf("mem:// -batch 50: inflight %d, want 50", r.Inflight)
	}
}

// gateOpener opens memdriver topics whose SendBatch holds every call
// until each of the run's producers handles (producers=P in the URL) has
// window calls in it at once (or, to end a broken run, a minute passed),
// and records how many calls each handle saw in it at most: with
// -inflight N -batch B, a producer must have N/B calls in flight, no fewer
// and no more. The gate of one handle waits for the others too: the
// producers claim messages from one count, and a producer whose senders
// start late would otherwise find nothing left to send.
type gateOpener struct {
	engine   *memdriver.Engine
	mu       sync.Mutex
	gates    []*gateTopic
	barriers map[string]*barrier // by topic: one per bench run
}

// barrier opens once need handles of a run were full.
type barrier struct {
	need, full int
	open       chan struct{}
	opened     bool // open is closed
}

type gateTopic struct {
	driver.Topic
	g       *gateOpener
	b       *barrier
	window  int
	mu      sync.Mutex
	in, max int
	counted bool // b.full counts this handle
}

var gates = &gateOpener{engine: memdriver.New(nil)}

func init() { mq.Register("benchgate", gates) }

func (g *gateOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	window, err := strconv.Atoi(u.Query().Get("window"))
	if err != nil {
		return nil, err
	}
	need, err := strconv.Atoi(u.Query().Get("producers"))
	if err != nil {
		return nil, err
	}
	t, err := g.engine.OpenTopic(u.Host, nil)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.barriers == nil {
		g.barriers = map[string]*barrier{}
	}
	b := g.barriers[u.Host]
	if b == nil {
		b = &barrier{need: need, open: make(chan struct{})}
		g.barriers[u.Host] = b
	}
	gt := &gateTopic{Topic: t, g: g, b: b, window: window}
	g.gates = append(g.gates, gt)
	g.mu.Unlock()
	return gt, nil
}

func (g *gateOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	return g.engine.OpenSubscription(u.Host, strings.TrimPrefix(u.Path, "/"), nil, nil)
}

// take returns the topics opened since the last call.
func (g *gateOpener) take() []*gateTopic {
	g.mu.Lock()
	defer g.mu.Unlock()
	gs := g.gates
	g.gates = nil
	return gs
}

func (t *gateTopic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	t.mu.Lock()
	t.in++
	t.max = max(t.max, t.in)
	full := t.in == t.window && !t.counted
	t.counted = t.counted || full
	t.mu.Unlock()
	if full {
		t.g.mu.Lock()
		t.b.full++
		if t.b.full == t.b.need && !t.b.opened {
			t.b.opened = true
			close(t.b.open)
		}
		t.g.mu.Unlock()
	}
	select {
	case <-t.b.open:
	case <-time.After(time.Minute): // only a broken bench waits for this
		t.g.mu.Lock()
		if !t.b.opened { // let the rest through: max tells the failure
			t.b.opened = true
			close(t.b.open)
		}
		t.g.mu.Unlock()
	}
	t.mu.Lock()
	t.in--
	t.mu.Unlock()
	return t.Topic.SendBatch(ctx, msgs)
}

func TestBenchKeepsInflightMessagesInFlightPerProducer(t *testing.T) {
	for _, tc := range []struct {
		producers, batch, inflight int
	}{
		{1, 1, 6},   // 6 Send calls
		{2, 4, 24},  // 6 SendBatch calls of 4 per producer
		{1, 10, 10}, // one SendBatch at a time
	} {
		window := tc.inflight / tc.batch
		code, out, errs := runCmd(t, "", "bench", "benchgate://", "-json", "-consumers", "0", "-count", "600",
			"-producers", strconv.Itoa(tc.producers), "-batch", strconv.Itoa(tc.batch), "-inflight", strconv.Itoa(tc.inflight),
			"-topic-url", "benchgate://{name}?window="+strconv.Itoa(window)+"&producers="+strconv.Itoa(tc.producers), "-subscription-url", "benchgate://{name}/{sub}")
		if code != 0 {
			t.Fatalf("%+v: exit %d, stderr %s", tc, code, errs)
		}
		var r benchJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Sent != 600 || r.Errors != 0 || r.Inflight != tc.inflight {
			t.Errorf("%+v: sent %d, errors %d, inflight %d; want 600, 0, %d", tc, r.Sent, r.Errors, r.Inflight, tc.inflight)
		}
		gs := gates.take()
		if len(gs) != tc.producers {
			t.Fatalf("%+v: %d producers opened, want %d", tc, len(gs), tc.producers)
		}
		for i, g := range gs {
			if g.max != window {
				t.Errorf("%+v: producer %d had at most %d calls in flight, want %d", tc, i, g.max, window)
			}
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
	for _, tc := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"bench"}, "exactly one URL"},
		{[]string{"bench", "mem://", "-size", "8"}, "-size must be at least 16"},
		{[]string{"bench", "mem://", "-batch", "0"}, "-batch must be 1 to 10000"},
		{[]string{"bench", "mem://", "-duration", "0"}, "-duration must be positive"},
		{[]string{"bench", "mem://", "-inflight", "0"}, "-inflight must be 1 to 100000, got 0"},
		{[]string{"bench", "mem://", "-inflight", "-5"}, "-inflight must be 1 to 100000, got -5"},
		{[]string{"bench", "mem://", "-inflight", "100001"}, "-inflight must be 1 to 100000, got 100001"},
		{[]string{"bench", "mem://", "-inflight", "many"}, `invalid value "many" for flag -inflight`},
		{[]string{"bench", "mem://", "-inflight", "150", "-batch", "100"}, "-inflight 150 is not a multiple of -batch 100"},
		{[]string{"bench", "mem://", "-inflight", "50", "-batch", "100"}, "-inflight 50 is not a multiple of -batch 100"},
	} {
		code, out, errs := runCmd(t, "", tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "usage: portmq bench") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q with the usage line", tc.args, code, out, errs, tc.want)
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
	if r := runBench(t, u, "-count", "500", "-batch", "50", "-size", "256"); r.Inflight != 500 {
		t.Errorf("-batch 50: inflight %d, want the default 500", r.Inflight)
	}
	runBench(t, u, "-count", "100", "-producers", "2", "-consumers", "2")
	// One Send at a time, and a window of Sends: both counted right.
	if r := runBench(t, u, "-count", "300", "-inflight", "1"); r.Inflight != 1 || r.Sent != 300 {
		t.Errorf("-inflight 1: inflight %d, sent %d; want 1, 300", r.Inflight, r.Sent)
	}
	if r := runBench(t, u, "-count", "2000", "-size", "256"); r.Inflight != 500 || r.Sent != 2000 {
		t.Errorf("defaults: inflight %d, sent %d; want 500, 2000", r.Inflight, r.Sent)
	}
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
