package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/portmq/portmq/examples/orderpayment/scenario"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/otelmq"
)

// traceOrders sends two orders through the demo's URLs with otelmq
// installed, one whose payment fails once and one that is dead-lettered,
// and prints their spans as trees, one per trace, with the links between
// them: the order service's trace holds the sends; each delivery is
// processed in a trace of its own that links back to its send.
func traceOrders(ctx context.Context, cfg scenario.Config, out io.Writer) error {
	exp := &treeExporter{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	obs, err := otelmq.New(otelmq.WithTracerProvider(tp), otelmq.WithMeterProvider(metricnoop.NewMeterProvider()), otelmq.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	dlq, err := mq.OpenSubscription(ctx, cfg.DLQURL)
	if err != nil {
		return err
	}
	defer dlq.Shutdown(context.Background())
	sub, err := mq.OpenSubscription(ctx, cfg.SubscriptionURL, mq.WithSubscriptionObserver(obs))
	if err != nil {
		return err
	}
	defer sub.Shutdown(context.Background())
	prod, err := mq.OpenProducer(ctx, cfg.ProducerURL, mq.WithProducerObserver(obs))
	if err != nil {
		return err
	}
	defer prod.Shutdown(context.Background())

	tracer := tp.Tracer("portmq demo")
	paid := make(chan struct{})
	var once sync.Once
	cons, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		_, charge := tracer.Start(ctx, "payment service: charge card")
		defer charge.End()
		switch string(d.Body) {
		case `{"order":"traced-retry"}`:
			if d.Attempt == 1 {
				return errors.New("payment gateway timed out")
			}
			once.Do(func() { close(paid) })
			return nil
		case `{"order":"traced-poison"}`:
			return errors.New("card declined")
		}
		return nil
	}, mq.WithBackoff(scenario.Backoff))
	if err != nil {
		return err
	}
	runDone := make(chan error, 1)
	go func() { runDone <- cons.Run(context.Background()) }()
	for _, order := range []string{"traced-retry", "traced-poison"} {
		octx, span := tracer.Start(ctx, "order service: POST /orders ("+order+")")
		err := prod.Send(octx, &mq.Message{Body: []byte(`{"order":"` + order + `"}`), DedupID: order})
		span.End()
		if err != nil {
			return err
		}
	}
	select {
	case <-paid:
	case <-ctx.Done():
		return errors.New("the traced order was not paid")
	}
	for {
		d, err := dlq.Receive(ctx)
		if err != nil {
			return fmt.Errorf("the traced poison order was not dead-lettered: %w", err)
		}
		_ = d.Ack()
		if strings.Contains(string(d.Body), "traced-poison") {
			break
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = cons.Shutdown(sctx)
	<-runDone
	fmt.Fprintln(out, "\nTraces of two orders (otelmq, OpenTelemetry semantic conventions "+otelmq.SemConvVersion+"):")
	exp.print(out)
	return nil
}

// treeExporter keeps spans in memory and prints them as trees.
type treeExporter struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (e *treeExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	e.spans = append(e.spans, spans...)
	e.mu.Unlock()
	return nil
}

func (e *treeExporter) Shutdown(context.Context) error { return nil }

var shownAttrs = []string{"messaging.message.id", "portmq.message.attempt", "portmq.outcome", "portmq.retry.delay_ms", "portmq.nack.delay_ms", "portmq.dead_letter.reason", "error.type"}

func (e *treeExporter) print(w io.Writer) {
	e.mu.Lock()
	spans := slices.Clone(e.spans)
	e.mu.Unlock()
	slices.SortFunc(spans, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	names := map[trace.SpanID]string{}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	var traces []trace.TraceID
	roots := map[trace.TraceID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		names[s.SpanContext().SpanID()] = s.Name()
		if s.Parent().IsValid() {
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
			continue
		}
		tid := s.SpanContext().TraceID()
		if _, ok := roots[tid]; !ok {
			traces = append(traces, tid)
		}
		roots[tid] = append(roots[tid], s)
	}
	t0 := time.Time{}
	if len(spans) > 0 {
		t0 = spans[0].StartTime()
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		var b strings.Builder
		fmt.Fprintf(&b, "  %8.1fms %s%s [%s]", float64(s.StartTime().Sub(t0).Microseconds())/1000, strings.Repeat("  ", depth), s.Name(), s.SpanKind())
		for _, a := range s.Attributes() {
			if slices.Contains(shownAttrs, string(a.Key)) {
				fmt.Fprintf(&b, " %s=%s", a.Key, a.Value.String())
			}
		}
		for _, l := range s.Links() {
			fmt.Fprintf(&b, " → links to %q in trace %s", names[l.SpanContext.SpanID()], l.SpanContext.TraceID().String()[:8])
		}
		fmt.Fprintln(w, b.String())
		for _, c := range children[s.SpanContext().SpanID()] {
			walk(c, depth+1)
		}
	}
	for _, tid := range traces {
		if rs := roots[tid]; len(rs) == 1 && rs[0].SpanKind() == trace.SpanKindClient && len(children[rs[0].SpanContext().SpanID()]) == 0 {
			continue // a receive span alone: it links to the sends it returned
		}
		fmt.Fprintf(w, "trace %s\n", tid.String()[:8])
		for _, r := range roots[tid] {
			walk(r, 0)
		}
	}
}
