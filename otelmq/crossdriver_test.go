package otelmq_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portmq/portmq/drivers/gcppubsub"
	_ "github.com/portmq/portmq/drivers/gocloud"
	_ "github.com/portmq/portmq/drivers/kafka"
	_ "github.com/portmq/portmq/drivers/postgres"
	_ "github.com/portmq/portmq/drivers/redis"
	_ "github.com/portmq/portmq/drivers/sns"
	_ "github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/drivers/watermill"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// testGoChannel backs watermill+otelgc://, Watermill's GoChannel as
// watermill+gochannel:// is but closed by TestMain (ending the goroutines
// it keeps for its subscriptions) before goleak looks.
var testGoChannel = gochannel.NewGoChannel(gochannel.Config{}, wm.NopLogger{})

func init() { watermill.Register("otelgc", watermill.GoChannel(testGoChannel)) }

// needServer skips (fails in CI) when nothing listens on addr.
func needServer(t *testing.T, what, addr, how string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		testenv.Unavailable(t, what, err, how)
	}
	_ = c.Close()
}

// route is one backend's topic and subscription URLs (and the mux that
// opens them), provisioned fresh.
type route struct {
	mux        *mq.URLMux
	topic, sub string
}

func provisionRoute(t *testing.T, mux *mq.URLMux, admin, topic, sub string, subURL string, topicURL string) route {
	t.Helper()
	a, err := mux.OpenAdmin(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(t.Context(), topic, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSubscription(t.Context(), topic, sub, mq.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := mux.OpenAdmin(context.Background(), admin)
		if err != nil {
			return
		}
		defer a.Close()
		_ = a.DeleteSubscription(context.Background(), topic, sub)
		_ = a.DeleteTopic(context.Background(), topic)
	})
	return route{mux: mux, topic: topicURL, sub: subURL}
}

// TestTraceContextCrossesEveryDriver sends one message inside a span
// through each driver and checks that the delivery carries that span's
// context, and that the process span of a Consumer links to it.
func TestTraceContextCrossesEveryDriver(t *testing.T) {
	name := fmt.Sprintf("otel-x-%d", time.Now().UnixNano())
	routes := map[string]func(t *testing.T) route{
		"mem": func(t *testing.T) route {
			mq.OpenSubscription(t.Context(), "mem://"+name+"/s") //nolint:errcheck // creates it
			return route{mq.DefaultURLMux(), "mem://" + name, "mem://" + name + "/s"}
		},
		"rabbitmq": func(t *testing.T) route {
			needRabbit(t)
			base := testenv.RabbitMQURL()
			return provisionRoute(t, mq.DefaultURLMux(), base, name, name+".s", base+"?topic="+name+"&subscription="+name+".s", base+"?topic="+name)
		},
		"kafka": func(t *testing.T) route {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			base := "kafka://" + c.ListenAddrs()[0] + "/"
			return provisionRoute(t, mq.DefaultURLMux(), base, name, name+"-s", base+name+"?subscription="+name+"-s&start=earliest", base+name)
		},
		"sqs": func(t *testing.T) route {
			srv := sqstest.Shared(t)
			q := srv.Query()
			return provisionRoute(t, mq.DefaultURLMux(), "sqs://?"+q, name, name, "sqs://"+name+"?"+q+"&wait=1s", "sqs://"+name+"?"+q)
		},
		"sns": func(t *testing.T) route {
			srv := sqstest.Shared(t)
			q := srv.Query()
			return provisionRoute(t, mq.DefaultURLMux(), "sns://?"+q, name+"-t", name+"-q", "sns://"+name+"-t/"+name+"-q?"+q+"&wait=1s", "sns://"+name+"-t?"+q)
		},
		"gcppubsub": func(t *testing.T) route {
			srv := pstest.NewServer()
			t.Cleanup(func() { _ = srv.Close() })
			mux := new(mq.URLMux)
			mux.Register(gcppubsub.Scheme, &gcppubsub.URLOpener{ClientOptions: []option.ClientOption{
				option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
				option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())), option.WithTelemetryDisabled(),
			}})
			base := "gcppubsub://projects/portmq-test"
			return provisionRoute(t, mux, base, name, name+"-s", base+"/subscriptions/"+name+"-s", base+"/topics/"+name)
		},
		"redis": func(t *testing.T) route {
			base := "redis://127.0.0.1:6379/0"
			needServer(t, "Redis", "127.0.0.1:6379", `start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`)
			return provisionRoute(t, mq.DefaultURLMux(), base, name, name+"-s", base+"?topic="+name+"&subscription="+name+"-s", base+"?topic="+name)
		},
		"postgres": func(t *testing.T) route {
			base := "postgres://postgres@127.0.0.1:5432/test?schema=portmq_otel"
			needServer(t, "PostgreSQL", "127.0.0.1:5432", "start it with: pg_ctlcluster 15 main start (trust auth, database test)")
			return provisionRoute(t, mq.DefaultURLMux(), base, name, name+"-s", base+"&topic="+name+"&subscription="+name+"-s", base+"&topic="+name)
		},
		"gocloud": func(t *testing.T) route {
			mq.OpenSubscription(t.Context(), "gocloud+mem://"+name+"?name=s") //nolint:errcheck // creates it
			return route{mq.DefaultURLMux(), "gocloud+mem://" + name, "gocloud+mem://" + name + "?name=s"}
		},
		"watermill": func(t *testing.T) route {
			mq.OpenSubscription(t.Context(), "watermill+otelgc://"+name+"?subscription=s") //nolint:errcheck // subscribes it
			return route{mq.DefaultURLMux(), "watermill+otelgc://" + name, "watermill+otelgc://" + name + "?subscription=s"}
		},
	}
	for _, driver := range []string{"mem", "rabbitmq", "kafka", "sqs", "sns", "gcppubsub", "redis", "postgres", "gocloud", "watermill"} {
		t.Run(driver, func(t *testing.T) {
			r := routes[driver](t)
			tel := newTelemetry(t)
			ctx := t.Context()
			sub, err := r.mux.OpenSubscription(ctx, r.sub, mq.WithSubscriptionObserver(tel.obs))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Shutdown(context.Background())
			p, err := r.mux.OpenProducer(ctx, r.topic, mq.WithProducerObserver(tel.obs))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			sctx, span := tel.tp.Tracer("test").Start(ctx, "checkout")
			if err := p.Send(sctx, &mq.Message{Body: []byte("order"), Attributes: map[string]string{"kind": "order"}}); err != nil {
				t.Fatal(err)
			}
			span.End()
			// The backlog is what waits: the message just sent. Pub/Sub
			// cannot tell; Kafka's lag needs a committed offset first.
			switch n, err := sub.Backlog(ctx); {
			case driver == "gcppubsub" || driver == "kafka" || driver == "gocloud" || driver == "watermill":
				t.Logf("Backlog: %d, %v", n, err)
			case err != nil || n != 1:
				t.Errorf("Backlog = %d, %v with one message sent and none received, want 1", n, err)
			}
			var send trace.SpanContext
			for _, s := range tel.spans.Ended() {
				if s.SpanKind() == trace.SpanKindProducer {
					send = s.SpanContext()
				}
			}
			if !send.IsValid() || send.TraceID() != span.SpanContext().TraceID() {
				t.Fatalf("no send span in the checkout trace")
			}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			d, err := sub.Receive(rctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			defer d.Ack()
			if d.Attributes["kind"] != "order" {
				t.Errorf("the application's attribute was lost: %v", d.Attributes)
			}
			got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(d.Attributes)))
			if !got.Equal(send.WithRemote(true)) {
				t.Errorf("%s carried trace context %v (attributes %v); want the send span's %v", driver, got, d.Attributes, send)
			}

		})
	}
}
