package otelmq_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	_ "github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/internal/testenv"
	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/otelmq"
)

// TestMain stops the moto server sqstest may have started and checks for
// leaked goroutines (but the one opencensus starts at init, through the
// Pub/Sub client).
func TestMain(m *testing.M) {
	code := m.Run()
	sqstest.Stop()
	if err := testGoChannel.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the test GoChannel:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needRabbit skips (fails in CI) without the test RabbitMQ.
func needRabbit(t testing.TB) {
	t.Helper()
	c, err := amqp.Dial(testenv.RabbitMQURL())
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	_ = c.Close()
}

// telemetry is an SDK pipeline into memory.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	obs    *otelmq.Observer
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	obs, err := otelmq.New(otelmq.WithTracerProvider(tel.tp), otelmq.WithMeterProvider(mp), otelmq.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		t.Fatal(err)
	}
	tel.obs = obs
	return tel
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// sum returns the total of a counter's data points whose attributes
// include want.
func (tel *telemetry) sum(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if hasAll(dp.Attributes, want) {
						total += dp.Value
					}
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					if hasAll(dp.Attributes, want) {
						total += int64(dp.Count)
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					if hasAll(dp.Attributes, want) {
						total += int64(dp.Count)
					}
				}
			}
		}
	}
	return total
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

type backend struct {
	name   string
	system string
	// urls returns the topic URL, a subscription URL with max_attempts=2
	// and a dead-letter destination, and the dead-letter reader's URL.
	urls func(t testing.TB) (topic, sub, dlq string)
}

func memURLs(t testing.TB) (string, string, string) {
	topic := "otel-" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-")
	dlq := topic + "-dlq"
	if _, err := mq.OpenSubscription(t.Context(), "mem://"+dlq+"/dlq"); err != nil {
		t.Fatal(err)
	}
	return "mem://" + topic, "mem://" + topic + "/payments?max_attempts=2&dead_letter=" + dlq + "&visibility=2s", "mem://" + dlq + "/dlq"
}

func rabbitURLs(t testing.TB) (string, string, string) {
	needRabbit(t)
	base := testenv.RabbitMQURL()
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	topic, sub := "portmq-otel-"+suffix, "portmq-otel-"+suffix+".payments"
	dlq := sub + ".dlq"
	a, err := mq.OpenAdmin(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(t.Context(), topic, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSubscription(t.Context(), topic, sub, mq.SubscriptionConfig{MaxAttempts: 2, DeadLetterTopic: dlq, Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := mq.OpenAdmin(context.Background(), base)
		if err != nil {
			return
		}
		defer a.Close()
		_ = a.DeleteSubscription(context.Background(), topic, sub)
		_ = a.DeleteSubscription(context.Background(), dlq, dlq)
		_ = a.DeleteTopic(context.Background(), dlq)
		_ = a.DeleteTopic(context.Background(), topic)
	})
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return base + "?" + v.Encode()
	}
	return q("topic", topic), q("topic", topic, "subscription", sub, "max_attempts", "2", "dead_letter", dlq, "visibility", "2s"), q("topic", dlq, "subscription", dlq)
}

// TestTraceCrossesTheBroker sends two messages inside a request's trace:
// "ok" fails once and then succeeds, "poison" fails until it is
// dead-lettered. It checks the span tree (send in the request's trace,
// process in traces of their own linked to the send), the messaging
// attributes, the retry and dead-letter settle spans under their process
// spans, the trace context kept by the dead letter, and the metrics.
func TestTraceCrossesTheBroker(t *testing.T) {
	for _, b := range []backend{
		{"mem", "portmq_mem", memURLs},
		{"rabbitmq", "rabbitmq", rabbitURLs},
	} {
		t.Run(b.name, func(t *testing.T) {
			tel := newTelemetry(t)
			topicURL, subURL, dlqURL := b.urls(t)
			ctx := t.Context()
			sub, err := mq.OpenSubscription(ctx, subURL, mq.WithSubscriptionObserver(tel.obs))
			if err != nil {
				t.Fatal(err)
			}
			p, err := mq.OpenProducer(ctx, topicURL, mq.WithProducerObserver(tel.obs))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())

			rctx, request := tel.tp.Tracer("test").Start(ctx, "POST /orders")
			for _, body := range []string{"ok", "poison"} {
				if err := p.Send(rctx, &mq.Message{Body: []byte(body)}); err != nil {
					t.Fatal(err)
				}
			}
			request.End()

			var okRuns atomic.Int32
			done := make(chan struct{}, 4)
			c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
				if !trace.SpanContextFromContext(ctx).IsValid() {
					t.Errorf("the handler's context carries no span")
				}
				if string(d.Body) == "ok" && okRuns.Add(1) > 1 {
					done <- struct{}{}
					return nil
				}
				if string(d.Body) == "poison" && d.Attempt == 2 {
					defer func() { done <- struct{}{} }()
				}
				return errors.New("payment declined")
			}, mq.WithBackoff(mq.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}), mq.WithMaxAttempts(2))
			if err != nil {
				t.Fatal(err)
			}
			run := make(chan error, 1)
			go func() { run <- c.Run(context.Background()) }()
			for range 2 {
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the messages were not processed")
				}
			}
			dlqSub, err := mq.OpenSubscription(ctx, dlqURL)
			if err != nil {
				t.Fatal(err)
			}
			rcv, cancel := context.WithTimeout(ctx, 20*time.Second)
			dead, err := dlqSub.Receive(rcv)
			cancel()
			if err != nil {
				t.Fatalf("no dead letter: %v", err)
			}
			_ = dead.Ack()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = c.Shutdown(sctx)
			<-run
			_ = sub.Shutdown(sctx)
			_ = dlqSub.Shutdown(sctx)
			cancel()

			spans := tel.spans.Ended()
			byKind := map[trace.SpanKind][]sdktrace.ReadOnlySpan{}
			for _, s := range spans {
				byKind[s.SpanKind()] = append(byKind[s.SpanKind()], s)
			}
			sends := byKind[trace.SpanKindProducer]
			if len(sends) != 2 {
				t.Fatalf("%d send spans, want 2", len(sends))
			}
			reqTrace := request.SpanContext().TraceID()
			sendCtx := map[trace.SpanID]bool{}
			for _, s := range sends {
				if s.Parent().SpanID() != request.SpanContext().SpanID() || s.SpanContext().TraceID() != reqTrace {
					t.Errorf("send span %q is not a child of the request span", s.Name())
				}
				if v, _ := attr(s, "messaging.system"); v.AsString() != b.system {
					t.Errorf("send span messaging.system = %q, want %q", v.AsString(), b.system)
				}
				if v, _ := attr(s, "messaging.operation.type"); v.AsString() != "send" {
					t.Errorf("send span messaging.operation.type = %q", v.AsString())
				}
				if v, ok := attr(s, "messaging.message.id"); !ok || v.AsString() == "" {
					t.Errorf("send span has no messaging.message.id")
				}
				if !strings.HasPrefix(s.Name(), "send ") {
					t.Errorf("send span named %q", s.Name())
				}
				sendCtx[s.SpanContext().SpanID()] = true
			}
			procs := byKind[trace.SpanKindConsumer]
			outcomes := map[string]int{}
			for _, s := range procs {
				if s.SpanContext().TraceID() == reqTrace {
					t.Errorf("process span %q is in the request's trace; want a trace of its own, linked", s.Name())
				}
				linked := false
				for _, l := range s.Links() {
					linked = linked || sendCtx[l.SpanContext.SpanID()]
				}
				if !linked {
					t.Errorf("process span %q does not link to its send span", s.Name())
				}
				v, _ := attr(s, "portmq.outcome")
				outcomes[v.AsString()]++
				if _, ok := attr(s, "portmq.message.attempt"); !ok {
					t.Errorf("process span without portmq.message.attempt")
				}
			}
			if outcomes["acked"] != 1 || outcomes["retried"] != 2 || outcomes["dead_lettered"] != 1 {
				t.Errorf("process outcomes %v, want acked 1, retried 2 (ok once, poison once), dead_lettered 1", outcomes)
			}
			// Settle spans are children of their process spans.
			procIDs := map[trace.SpanID]string{}
			for _, s := range procs {
				v, _ := attr(s, "portmq.outcome")
				procIDs[s.SpanContext().SpanID()] = v.AsString()
			}
			settled := map[string]int{}
			for _, s := range byKind[trace.SpanKindClient] {
				v, _ := attr(s, "messaging.operation.type")
				if v.AsString() != "settle" {
					continue
				}
				op, _ := attr(s, "messaging.operation.name")
				if s.Status().Code != 0 && s.Status().Description != "" {
					t.Logf("settle span %q failed: %s", s.Name(), s.Status().Description)
				}
				if procIDs[s.Parent().SpanID()] == "" {
					t.Errorf("settle span %q is not a child of a process span", s.Name())
				}
				settled[op.AsString()]++
			}
			if settled["ack"] != 1 || settled["nack"] != 2 || settled["dead_letter"] != 1 {
				t.Errorf("settle spans %v, want ack 1, nack 2, dead_letter 1", settled)
			}
			// The dead letter keeps the creation context.
			prop := propagation.TraceContext{}
			dsc := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.MapCarrier(dead.Attributes)))
			if !dsc.IsValid() || dsc.TraceID() != reqTrace || !sendCtx[dsc.SpanID()] {
				t.Errorf("the dead letter carries trace context %v; want its send span's", dsc)
			}
			sys := attribute.String("messaging.system", b.system)
			for _, m := range []struct {
				name string
				want int64
				attr []attribute.KeyValue
			}{
				{"messaging.client.sent.messages", 2, nil},
				{"messaging.process.duration", 4, nil},
				{"portmq.dead_letters", 1, []attribute.KeyValue{attribute.String("portmq.dead_letter.reason", "max_attempts")}},
				{"portmq.nacks", 2, nil},
				{"portmq.delivery.attempt", 4, nil},
			} {
				if got := tel.sum(t, m.name, append(m.attr, sys)...); got != m.want {
					t.Errorf("metric %s = %d, want %d", m.name, got, m.want)
				}
			}
			if got := tel.sum(t, "messaging.client.consumed.messages", sys); got < 4 {
				t.Errorf("messaging.client.consumed.messages = %d, want at least 4", got)
			}
			if got := tel.sum(t, "portmq.consumer.handlers.active", sys); got != 0 {
				t.Errorf("portmq.consumer.handlers.active = %d after the run, want 0", got)
			}
		})
	}
}

// TestReceiveSpans checks which receives record a "receive" span under
// each ReceiveSpans setting: by default only one whose context carries a
// span (as its child), with Always every one (linked to the creation
// context of what it returned), with Never none.
func TestReceiveSpans(t *testing.T) {
	for _, c := range []struct {
		name                string
		opts                []otelmq.Option
		wantOutside, wantIn bool
	}{
		{"default", nil, false, true},
		{"always", []otelmq.Option{otelmq.WithReceiveSpans(otelmq.ReceiveSpansAlways)}, true, true},
		{"never", []otelmq.Option{otelmq.WithReceiveSpans(otelmq.ReceiveSpansNever)}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			obs, err := otelmq.New(append([]otelmq.Option{otelmq.WithTracerProvider(tp), otelmq.WithPropagator(propagation.TraceContext{})}, c.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			topic := "otel-receive-" + c.name
			sub, err := mq.OpenSubscription(ctx, "mem://"+topic+"/s", mq.WithSubscriptionObserver(obs))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Shutdown(context.Background())
			p, err := mq.OpenProducer(ctx, "mem://"+topic, mq.WithProducerObserver(obs))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			for _, body := range []string{"outside", "inside"} {
				if err := p.Send(ctx, &mq.Message{Body: []byte(body)}); err != nil {
					t.Fatal(err)
				}
			}
			receive := func(ctx context.Context) {
				d, err := sub.Receive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Ack(); err != nil {
					t.Fatal(err)
				}
			}
			receive(ctx)
			job, parent := tp.Tracer("test").Start(ctx, "job")
			receive(job)
			parent.End()

			var sends, outside, inside []sdktrace.ReadOnlySpan
			for _, s := range spans.Ended() {
				switch {
				case s.Name() == "send "+topic:
					sends = append(sends, s)
				case s.Name() != "receive "+topic:
				case s.Parent().SpanID() == parent.SpanContext().SpanID():
					inside = append(inside, s)
				default:
					outside = append(outside, s)
				}
			}
			if len(sends) != 2 {
				t.Fatalf("%d send spans, want 2", len(sends))
			}
			if got := len(outside) == 1; got != c.wantOutside || len(outside) > 1 {
				t.Errorf("%d receive spans outside a trace, want %v", len(outside), c.wantOutside)
			}
			if got := len(inside) == 1; got != c.wantIn || len(inside) > 1 {
				t.Errorf("%d receive spans in the job's trace, want %v", len(inside), c.wantIn)
			}
			// The message "outside" was sent first, so sends[0] is its
			// creation context, sends[1] that of "inside".
			check := func(rs []sdktrace.ReadOnlySpan, send sdktrace.ReadOnlySpan) {
				for _, s := range rs {
					if s.SpanKind() != trace.SpanKindClient {
						t.Errorf("receive span kind %v, want client", s.SpanKind())
					}
					if len(s.Links()) != 1 || s.Links()[0].SpanContext.SpanID() != send.SpanContext().SpanID() {
						t.Errorf("receive span links %v, want the send span of the message it returned", s.Links())
					}
				}
			}
			check(outside, sends[0])
			check(inside, sends[1])
		})
	}
}
