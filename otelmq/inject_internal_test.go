package otelmq

import (
	"context"
	"maps"
	"math/rand/v2"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceContextIsWhatTheW3CPropagatorWrites compares traceContext with
// propagation.TraceContext's Inject on random span contexts, sampled or
// not, with and without a tracestate.
func TestTraceContextIsWhatTheW3CPropagatorWrites(t *testing.T) {
	ts, err := trace.ParseTraceState("vendor=abc,other=1-2")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		var tid trace.TraceID
		var sid trace.SpanID
		for j := range tid {
			tid[j] = byte(r.Uint32())
		}
		for j := range sid {
			sid[j] = byte(r.Uint32())
		}
		cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(r.Uint32() & 0xff)}
		if i%3 == 0 {
			cfg.TraceState = ts
		}
		sc := trace.NewSpanContext(cfg)
		if !sc.IsValid() {
			continue
		}
		want := map[string]string{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), propagation.MapCarrier(want))
		if got := traceContext(sc); !maps.Equal(got, want) {
			t.Fatalf("traceContext(%v) = %v, want %v", sc, got, want)
		}
	}
}
