package gcppubsub

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	"go.uber.org/goleak"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portmq/portmq/mq"
)

func TestMain(m *testing.M) {
	// pstest's minimum ack deadline is a package variable that its server
	// goroutines read: set it once, before any test starts a server, and
	// never again, so no test races another over it. (Its zero value
	// already admits 1 s; ResetMinAckDeadline would make it 10 s.)
	pstest.SetMinAckDeadline(time.Second)
	goleak.VerifyTestMain(m,
		// opencensus, imported by the Pub/Sub client, starts its stats
		// worker in init and never stops it.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const testProject = "portmq-test"

// emulatorOptions are the client options for a plaintext emulator at addr
// (what PUBSUB_EMULATOR_HOST does, without the environment variable).
func emulatorOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

// fake is a pstest server with a client, an admin and a mux whose
// gcppubsub scheme reaches the server.
type fake struct {
	t      *testing.T
	srv    *pstest.Server
	client *pubsub.Client
	mux    *mq.URLMux
	admin  *mq.Admin
}

func newFake(t *testing.T, opts ...pstest.ServerReactorOption) *fake {
	t.Helper()
	srv := pstest.NewServer(opts...)
	f := &fake{t: t, srv: srv}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := pubsub.NewClient(context.Background(), testProject, emulatorOptions(srv.Addr)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f.client = c
	f.mux = new(mq.URLMux)
	f.mux.Register(Scheme, &URLOpener{ClientOptions: emulatorOptions(srv.Addr)})
	a, err := OpenAdmin(c)
	if err != nil {
		t.Fatal(err)
	}
	f.admin = mq.NewAdmin(a)
	return f
}

func (f *fake) ctx() context.Context { return f.t.Context() }

func (f *fake) topic(name string) string {
	f.t.Helper()
	if err := f.admin.CreateTopic(f.ctx(), name, mq.TopicConfig{}); err != nil {
		f.t.Fatalf("CreateTopic(%s): %v", name, err)
	}
	return "gcppubsub://projects/" + testProject + "/topics/" + name
}

func (f *fake) subscription(topic, name string, cfg mq.SubscriptionConfig) string {
	f.t.Helper()
	if err := f.admin.CreateSubscription(f.ctx(), topic, name, cfg); err != nil {
		f.t.Fatalf("CreateSubscription(%s, %s): %v", topic, name, err)
	}
	return "gcppubsub://projects/" + testProject + "/subscriptions/" + name
}

func (f *fake) producer(u string) *mq.Producer {
	f.t.Helper()
	p, err := f.mux.OpenProducer(f.ctx(), u)
	if err != nil {
		f.t.Fatalf("OpenProducer(%s): %v", u, err)
	}
	f.t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func (f *fake) sub(u string, opts ...mq.SubscriptionOption) *mq.Subscription {
	f.t.Helper()
	s, err := f.mux.OpenSubscription(f.ctx(), u, opts...)
	if err != nil {
		f.t.Fatalf("OpenSubscription(%s): %v", u, err)
	}
	f.t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func (f *fake) send(p *mq.Producer, m *mq.Message) *mq.Message {
	f.t.Helper()
	if err := p.Send(f.ctx(), m); err != nil {
		f.t.Fatalf("Send(%q): %v", m.Body, err)
	}
	return m
}

func (f *fake) recv(s *mq.Subscription, within time.Duration) *mq.Delivery {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx(), within)
	defer cancel()
	d, err := s.Receive(ctx)
	if err != nil {
		f.t.Fatalf("Receive within %v: %v", within, err)
	}
	return d
}
