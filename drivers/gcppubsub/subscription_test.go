package gcppubsub

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// gatedPull serves pstest with Pull held at a gate. Past the gate, the
// Pull completes even if its caller went away, like a response the real
// service already sent.
type gatedPull struct {
	*pstest.GServer
	gate chan struct{}
}

func (g *gatedPull) Pull(ctx context.Context, req *pb.PullRequest) (*pb.PullResponse, error) {
	<-g.gate
	return g.GServer.Pull(context.WithoutCancel(ctx), req)
}

// newGatedFake is a fake whose Pull calls wait until the returned gate is
// closed.
func newGatedFake(t *testing.T) (*fake, chan struct{}) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	gate := make(chan struct{})
	gs := grpc.NewServer()
	pb.RegisterPublisherServer(gs, &srv.GServer)
	pb.RegisterSubscriberServer(gs, &gatedPull{GServer: &srv.GServer, gate: gate})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(ln) }()
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
		gs.Stop()
		<-done
	})
	c, err := pubsub.NewClient(context.Background(), testProject, emulatorOptions(ln.Addr().String())...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f := &fake{t: t, srv: srv, client: c, mux: new(mq.URLMux)}
	f.mux.Register(Scheme, &URLOpener{ClientOptions: emulatorOptions(ln.Addr().String())})
	a, _ := OpenAdmin(c)
	f.admin = mq.NewAdmin(a)
	return f, gate
}

func giveUp(t *testing.T, s *mq.Subscription, after time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), after)
	defer cancel()
	if d, err := s.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive while Pull is held = %v, %v; want DeadlineExceeded", d, err)
	}
}

// TestAbandonedPullGoesToTheNextReceive: a Receive gives up while its Pull
// is on its way; the message the Pull brings is not lost for a lease but
// handed to the next Receive.
func TestAbandonedPullGoesToTheNextReceive(t *testing.T) {
	f, gate := newGatedFake(t)
	p := f.producer(f.topic("gated"))
	s := f.sub(f.subscription("gated", "gated-sub", mq.SubscriptionConfig{Lease: time.Minute}))
	m := f.send(p, &mq.Message{Body: []byte("in flight")})
	giveUp(t, s, 100*time.Millisecond)
	close(gate)
	// Well within the lease: a message lost in a canceled Pull would come
	// back only after it.
	d := f.recv(s, 10*time.Second)
	if d.ID != m.ID {
		t.Fatalf("received %s, want %s", d.ID, m.ID)
	}
	if n := f.srv.Message(m.ID).Deliveries; n != 1 {
		t.Errorf("the message was delivered %d times, want once", n)
	}
	if err := d.Ack(); err != nil {
		t.Error(err)
	}
}

// TestUntakenPrefetchIsNackedBeforeItsDeadline: a message pulled for a
// Receive that gave up, and not taken by another, is handed back while a
// quarter of its lease is left.
func TestUntakenPrefetchIsNackedBeforeItsDeadline(t *testing.T) {
	f, gate := newGatedFake(t)
	p := f.producer(f.topic("stale"))
	s := f.sub(f.subscription("stale", "stale-sub", mq.SubscriptionConfig{Lease: 2 * time.Second}))
	m := f.send(p, &mq.Message{Body: []byte("nobody takes me")})
	giveUp(t, s, 100*time.Millisecond)
	close(gate)
	deadline := time.Now().Add(2 * time.Second)
	for {
		msg := f.srv.Message(m.ID)
		if msg.Deliveries == 1 && len(msg.Modacks) == 1 {
			if ma := msg.Modacks[0]; ma.AckDeadline != 0 {
				t.Errorf("modack %+v, want a nack (deadline 0)", ma)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no nack within the 2 s lease: %+v", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttemptsComeFromTheDeadLetterPolicy. The subscriptions are on
// separate topics: pstest counts the deliveries of a message across all
// subscriptions of its topic (the real service counts per subscription).
func TestAttemptsComeFromTheDeadLetterPolicy(t *testing.T) {
	f := newFake(t)
	for _, c := range []struct {
		name    string
		cfg     mq.SubscriptionConfig
		counted bool
	}{
		{"plain", mq.SubscriptionConfig{Lease: 10 * time.Second}, false},
		{"counted", mq.SubscriptionConfig{Lease: 10 * time.Second, MaxAttempts: 50}, true},
	} {
		p := f.producer(f.topic("attempts-" + c.name))
		s := f.sub(f.subscription("attempts-"+c.name, c.name, c.cfg))
		if s.Capabilities().Attempts.Has() != c.counted {
			t.Fatalf("%s: attempts capability %v", c.name, s.Capabilities().Attempts)
		}
		f.send(p, &mq.Message{Body: []byte("count me")})
		for i := 1; i <= 3; i++ {
			d := f.recv(s, 5*time.Second)
			want := 1 // mq's Attempt when the backend does not count
			if c.counted {
				want = i
			}
			if d.Attempt != want {
				t.Errorf("%s: Attempt %d on delivery %d, want %d", c.name, d.Attempt, i, want)
			}
			if err := d.Nack(0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestNativeDeadLetterPolicyForwards: with max attempts in Pub/Sub's range
// the server dead-letters. pstest forwards the message as it was (the real
// service adds CloudPubSubDeadLetterSource* attributes, which the driver
// maps to portmq's; see TestNativeDeadLetterAttributesBecomeMetadata).
func TestNativeDeadLetterPolicyForwards(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("native"))
	s := f.sub(f.subscription("native", "native-sub", mq.SubscriptionConfig{Lease: 10 * time.Second, MaxAttempts: 5}))
	dlq := f.sub("gcppubsub://" + testProject + "/native-sub-dlq")
	if !s.Capabilities().DeadLetter.Has() {
		t.Fatalf("capability dead-letter is %v, want native", s.Capabilities().DeadLetter)
	}
	m := f.send(p, &mq.Message{Body: []byte("poison"), Attributes: map[string]string{"origin": "test"}})
	for i := 1; i <= 5; i++ {
		d := f.recv(s, 5*time.Second)
		if d.ID != m.ID || d.Attempt != i {
			t.Fatalf("delivery %s attempt %d, want %s attempt %d", d.ID, d.Attempt, m.ID, i)
		}
		if err := d.Nack(0); err != nil {
			t.Fatal(err)
		}
	}
	// pstest forwards when the subscription is pulled again.
	ctx, cancel := context.WithTimeout(f.ctx(), time.Second)
	if d, err := s.Receive(ctx); err == nil {
		t.Errorf("delivered again after 5 attempts: attempt %d", d.Attempt)
	}
	cancel()
	dl := f.recv(dlq, 5*time.Second)
	if string(dl.Body) != "poison" || dl.Attributes["origin"] != "test" {
		t.Errorf("dead letter %q %v", dl.Body, dl.Attributes)
	}
	t.Logf("dead letter attributes on pstest: %v", dl.Attributes)
	if err := dl.Ack(); err != nil {
		t.Error(err)
	}
}

func TestNativeDeadLetterAttributesBecomeMetadata(t *testing.T) {
	attrs, dedup := fromAttributes(map[string]string{
		"origin":              "x",
		nativeDLQCount:        "5",
		nativeDLQSubscription: "orders-sub",
		nativeDLQProject:      "p1",
		attrDedupID:           "d-1",
		"CloudPubSubDeadLetterSourceTopicPublishTime": "2025-01-01T00:00:00Z",
	})
	if dedup != "d-1" || attrs[attrDedupID] != "" {
		t.Errorf("dedup %q, attributes %v", dedup, attrs)
	}
	want := map[string]string{
		driver.AttrAttempts: "5",
		driver.AttrSource:   "projects/p1/subscriptions/orders-sub",
		"origin":            "x",
		nativeDLQCount:      "5",
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	if !strings.Contains(attrs[driver.AttrDeadLetterReason], "max delivery attempts") {
		t.Errorf("reason %q", attrs[driver.AttrDeadLetterReason])
	}
	// portmq's own dead letters keep their metadata.
	attrs, _ = fromAttributes(map[string]string{nativeDLQCount: "5", driver.AttrDeadLetterReason: "mine", driver.AttrAttempts: "2"})
	if attrs[driver.AttrDeadLetterReason] != "mine" || attrs[driver.AttrAttempts] != "2" {
		t.Errorf("portmq metadata overwritten: %v", attrs)
	}
	if a, d := fromAttributes(map[string]string{attrEmpty: "1"}); a != nil || d != "" {
		t.Errorf("fromAttributes(empty marker) = %v, %q", a, d)
	}
}

func TestNackAndExtendUseWholeSeconds(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("seconds"))
	s := f.sub(f.subscription("seconds", "seconds-sub", mq.SubscriptionConfig{Lease: 10 * time.Second}))
	m := f.send(p, &mq.Message{Body: []byte("x")})
	d := f.recv(s, 5*time.Second)
	before := time.Now()
	if err := d.Extend(2500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if dl := d.Deadline(); dl.Before(before.Add(2500*time.Millisecond)) || dl.After(time.Now().Add(3*time.Second)) {
		t.Errorf("deadline %v after Extend(2.5s) at %v", dl.Sub(before), before)
	}
	if err := d.Nack(1500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []int32
	for _, ma := range f.srv.Message(m.ID).Modacks {
		got = append(got, ma.AckDeadline)
	}
	if len(got) != 2 || got[0] != 3 || got[1] != 2 {
		t.Errorf("modack deadlines %v, want [3 2] (Extend 2.5s, Nack 1.5s)", got)
	}
	if err := d.Ack(); !errors.Is(err, mq.ErrSettled) {
		t.Errorf("Ack after Nack: %v", err)
	}
}

func TestSeekForwardDropsOlderMessages(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("seek"))
	u := f.subscription("seek", "seek-sub", mq.SubscriptionConfig{Retention: time.Hour})
	s := f.sub(u)
	f.send(p, &mq.Message{Body: []byte("old")})
	// Seeking forward (pstest's one working direction) acks what was
	// published before the time.
	if err := s.Seek(f.ctx(), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	m := f.send(p, &mq.Message{Body: []byte("new")})
	if d := f.recv(s, 5*time.Second); d.ID != m.ID {
		t.Errorf("received %q after seeking past the old message", d.Body)
	}
}

func TestUnreadableConfigurationComesFromOptions(t *testing.T) {
	f := newFake(t, pstest.WithErrorInjection("GetSubscription", codes.PermissionDenied, "no pubsub.subscriptions.get"))
	f.topic("blind")
	f.subscription("blind", "blind-sub", mq.SubscriptionConfig{Lease: 20 * time.Second, MaxAttempts: 3, DeadLetterTopic: "blind-dlq"})
	base := "gcppubsub://" + testProject + "/blind-sub"
	s := f.sub(base + "?ack_deadline=20s&max_attempts=3&dead_letter=blind-dlq&ordered=true")
	info, caps := s.Info(), s.Capabilities()
	if info.Lease != 20*time.Second || info.MaxAttempts != 3 || !info.Ordered || !info.HasDeadLetter {
		t.Errorf("Info %+v", info)
	}
	if !caps.Attempts.Has() || caps.DeadLetter.Has() {
		t.Errorf("capabilities %v: max attempts 3 means a backstop policy and mq dead-lettering", caps)
	}
	s = f.sub(base + "?max_attempts=8&dead_letter=blind-dlq")
	if !s.Capabilities().DeadLetter.Has() || s.Info().Lease != defaultAckDeadline {
		t.Errorf("max attempts 8: capabilities %v, info %+v", s.Capabilities(), s.Info())
	}
	_, err := f.mux.OpenSubscription(f.ctx(), base+"?max_attempts=3")
	if mq.Code(err) != mq.InvalidArgument || !strings.Contains(err.Error(), "dead-letter topic") {
		t.Errorf("max attempts without dead_letter: %v", err)
	}
}

// TestDefaultOpenerHonoursEmulatorHost uses the registered opener (the
// default mux) with PUBSUB_EMULATOR_HOST pointing at pstest. Not parallel:
// it sets the environment.
func TestDefaultOpenerHonoursEmulatorHost(t *testing.T) {
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	ctx := t.Context()
	a, err := mq.OpenAdmin(ctx, "gcppubsub://env-project")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "env-topic", mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSubscription(ctx, "env-topic", "env-sub", mq.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "gcppubsub://env-project/env-topic")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	s, err := mq.OpenSubscription(ctx, "gcppubsub://projects/env-project/subscriptions/env-sub")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	m := &mq.Message{Body: []byte("via the environment")}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d, err := s.Receive(rctx)
	if err != nil || d.ID != m.ID {
		t.Fatalf("Receive = %v, %v", d, err)
	}
	if err := d.Ack(); err != nil {
		t.Error(err)
	}
	if got := srv.Message(m.ID); got == nil || got.Acks != 1 {
		t.Errorf("the message on pstest: %+v", got)
	}
}

// TestNackBeyondTenMinutesIsHeldByMQ: Pub/Sub's ModifyAckDeadline stops at
// 600 s; mq holds a delivery nacked for longer, keeping its deadline
// extended, and hands it back when it shuts down.
func TestNackBeyondTenMinutesIsHeldByMQ(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("long-nack"))
	u := f.subscription("long-nack", "long-nack-sub", mq.SubscriptionConfig{Lease: 10 * time.Second})
	s, err := f.mux.OpenSubscription(f.ctx(), u)
	if err != nil {
		t.Fatal(err)
	}
	m := f.send(p, &mq.Message{Body: []byte("see you in 11 minutes")})
	d := f.recv(s, 5*time.Second)
	if err := d.Nack(11 * time.Minute); err != nil {
		t.Fatalf("Nack(11m): %v", err)
	}
	ctx, cancel := context.WithTimeout(f.ctx(), time.Second)
	if d, err := s.Receive(ctx); err == nil {
		t.Errorf("redelivered at once after Nack(11m): %q", d.Body)
	}
	cancel()
	if got := modackDeadlines(f, m.ID); len(got) == 0 || got[0] != 10 {
		t.Errorf("modacks %v while held, want extensions by the 10 s lease", got)
	}
	if err := s.Shutdown(f.ctx()); err != nil {
		t.Fatal(err)
	}
	got := modackDeadlines(f, m.ID)
	if got[len(got)-1] != 0 {
		t.Errorf("modacks %v, want a nack (0) when the subscription shut down", got)
	}
}
