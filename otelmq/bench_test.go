package otelmq_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/otelmq"
)

var benchSeq atomic.Int64

// BenchmarkEndToEnd is memdriver's BenchmarkEndToEnd/p1c1 (publish →
// receive → ack through the mq API, 256-byte bodies, one op a message)
// five ways in one run: without an observer; without one but with one
// span started and ended by the producer per message (the floor of any
// per-message tracing); with otelmq on the noop
// providers; with the trace SDK whose sampler drops every span (the
// trace context is still made and carried in every message) and noop
// metrics; and the same with the metric SDK too (a reader nobody
// collects from). Compare them with
// benchstat: go test -run '^$' -bench BenchmarkEndToEnd -count 10 ./otelmq/
func BenchmarkEndToEnd(b *testing.B) {
	noop, err := otelmq.New(otelmq.WithTracerProvider(tracenoop.NewTracerProvider()), otelmq.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())
	sdk, err := otelmq.New(otelmq.WithTracerProvider(tp), otelmq.WithMeterProvider(metricnoop.NewMeterProvider()), otelmq.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		b.Fatal(err)
	}
	sdkMetrics, err := otelmq.New(otelmq.WithTracerProvider(tp), otelmq.WithMeterProvider(mp), otelmq.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		b.Fatal(err)
	}
	// bare-plus-one-sdk-span is the floor of any instrumentation that
	// gives each message a span of its own: bare, but the producer starts
	// and ends one span per message itself (same provider, same sampler).
	floor := tp.Tracer("floor")
	for _, c := range []struct {
		name   string
		obs    mq.Observer
		before func(ctx context.Context)
	}{
		{"bare", nil, nil},
		{"bare-plus-one-sdk-span", nil, func(ctx context.Context) { _, s := floor.Start(ctx, "send"); s.End() }},
		{"otel-noop", noop, nil},
		{"otel-sdk-drop-all", sdk, nil},
		{"otel-sdk-drop-all-with-metrics", sdkMetrics, nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			name := fmt.Sprintf("otel-bench-%d", benchSeq.Add(1))
			endToEnd(b, "mem://"+name, "mem://"+name+"/s", c.obs, c.before)
		})
	}
}

// BenchmarkEndToEndRabbitMQ is BenchmarkEndToEnd's bare, otel-noop and
// otel-sdk-drop-all on RabbitMQ (each Send waits for its publisher
// confirm): what the instrumentation costs next to a broker's round trip.
func BenchmarkEndToEndRabbitMQ(b *testing.B) {
	noop, err := otelmq.New(otelmq.WithTracerProvider(tracenoop.NewTracerProvider()), otelmq.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		b.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer tp.Shutdown(context.Background())
	sdk, err := otelmq.New(otelmq.WithTracerProvider(tp), otelmq.WithMeterProvider(metricnoop.NewMeterProvider()), otelmq.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		obs  mq.Observer
	}{{"bare", nil}, {"otel-noop", noop}, {"otel-sdk-drop-all", sdk}} {
		b.Run(c.name, func(b *testing.B) {
			topic, sub, _ := rabbitURLs(b)
			endToEnd(b, topic, sub, c.obs, nil)
		})
	}
}

func endToEnd(b *testing.B, topicURL, subURL string, obs mq.Observer, before func(ctx context.Context)) {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, subURL, mq.WithSubscriptionObserver(obs))
	if err != nil {
		b.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, topicURL, mq.WithProducerObserver(obs))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = p.Shutdown(ctx)
		_ = sub.Shutdown(ctx)
	}()
	body := make([]byte, 256)
	total := b.N
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	wg.Go(func() {
		for range total {
			if before != nil {
				before(ctx)
			}
			if err := p.Send(ctx, &mq.Message{Body: body}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for range total {
		d, err := sub.Receive(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Ack(); err != nil {
			b.Error(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}
