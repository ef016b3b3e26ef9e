package otelmq

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/portmq/portmq/mq"
)

// SemConvVersion is the version of the OpenTelemetry semantic conventions
// the package follows (their messaging part is still "Development").
const SemConvVersion = "1.43.0"

const scope = "github.com/portmq/portmq/otelmq"

// Option configures an Observer.
type Option func(*config)

type config struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	receives ReceiveSpans
}

// ReceiveSpans says which calls of Receive and ReceiveBatch record a
// "receive" span.
type ReceiveSpans uint8

const (
	// ReceiveSpansInTrace, the default: a receive whose context carries a
	// span (a poll inside a traced job, say) records one, as its child.
	// A receive outside any trace records none: it would start a trace of
	// one span per call (the Consumer's loop, a bare polling loop), and
	// the message's path is already in its process span, which links to
	// the creation context. OpenTelemetry's Java instrumentation does
	// likewise (receive telemetry off by default for pull APIs).
	ReceiveSpansInTrace ReceiveSpans = iota
	// ReceiveSpansAlways: every receive that returned deliveries or failed
	// with Unavailable records one, each outside a trace starting its own,
	// linked to every message's creation context.
	ReceiveSpansAlways
	// ReceiveSpansNever: no receive spans (metrics are still recorded).
	ReceiveSpansNever
)

// WithReceiveSpans sets which receives record a "receive" span (default
// ReceiveSpansInTrace). Settle and process spans do not depend on it.
func WithReceiveSpans(r ReceiveSpans) Option { return func(c *config) { c.receives = r } }

// WithTracerProvider sets where spans go (default: otel.GetTracerProvider
// at New).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets where metrics go (default: otel.GetMeterProvider
// at New).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithPropagator sets how the creation context travels in messages
// (default: otel.GetTextMapPropagator at New; set W3C TraceContext there,
// or here with propagation.TraceContext{}).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// Observer is an mq.Observer that records OpenTelemetry traces and
// metrics. It is safe for concurrent use.
type Observer struct {
	tracer   trace.Tracer
	tracing  bool
	receives ReceiveSpans
	prop     propagation.TextMapPropagator
	w3c      bool // prop is propagation.TraceContext: StartSend formats it itself
	metered  bool
	m        instruments
}

var _ mq.Observer = (*Observer)(nil)

// New returns an Observer. Install it with mq.SetDefaultObserver, or per
// handle with mq.WithProducerObserver and mq.WithSubscriptionObserver.
func New(opts ...Option) (*Observer, error) {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	o := &Observer{prop: c.prop, receives: c.receives}
	_, o.w3c = c.prop.(propagation.TraceContext)
	if _, noop := c.tp.(tracenoop.TracerProvider); !noop {
		o.tracer = c.tp.Tracer(scope, trace.WithSchemaURL(semconv.SchemaURL))
		o.tracing = true
	}
	if _, noop := c.mp.(metricnoop.MeterProvider); !noop {
		m, err := newInstruments(c.mp.Meter(scope, metric.WithSchemaURL(semconv.SchemaURL)))
		if err != nil {
			return nil, err
		}
		o.m, o.metered = m, true
	}
	return o, nil
}

// System maps a URL scheme to messaging.system: the registered value where
// the semantic conventions have one, else portmq's own (documented in the
// package doc).
func System(scheme string) string {
	if rest, ok := strings.CutPrefix(scheme, "gocloud+"); ok {
		switch rest {
		case "rabbit":
			return "rabbitmq"
		case "mem":
			return "gocloud_mem"
		case "kafka":
			return "kafka"
		case "awssqs":
			return "aws_sqs"
		case "awssns":
			return "aws.sns"
		case "gcppubsub":
			return "gcp_pubsub"
		case "nats":
			return "nats"
		}
		return "gocloud"
	}
	if strings.HasPrefix(scheme, "watermill+") {
		return "watermill"
	}
	switch scheme {
	case "mem":
		return "portmq_mem"
	case "amqp", "amqps":
		return "rabbitmq"
	case "kafka":
		return "kafka"
	case "sqs":
		return "aws_sqs"
	case "sns":
		return "aws.sns"
	case "gcppubsub":
		return "gcp_pubsub"
	case "redis", "rediss":
		return "redis"
	case "postgres", "postgresql":
		return "postgresql"
	case "nats":
		return "nats"
	case "kinesis":
		return "aws_kinesis"
	case "":
		return "portmq"
	}
	return scheme
}

// ObserveProducer implements mq.Observer.
func (o *Observer) ObserveProducer(info mq.HandleInfo) mq.ProducerObserver {
	if !o.tracing && !o.metered {
		return nil
	}
	base := []attribute.KeyValue{semconv.MessagingSystemKey.String(System(info.System)), semconv.MessagingDestinationName(info.Destination)}
	h := &producer{o: o, base: base, spanName: "send " + info.Destination,
		startOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}}
	h.okSet = attribute.NewSet(append(base, semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend)...)
	h.okOpts = []metric.AddOption{metric.WithAttributeSet(h.okSet)}
	h.okRec = []metric.RecordOption{metric.WithAttributeSet(h.okSet)}
	return h
}

// ObserveSubscription implements mq.Observer.
func (o *Observer) ObserveSubscription(info mq.HandleInfo) mq.SubscriptionObserver {
	if !o.tracing && !o.metered {
		return nil
	}
	base := []attribute.KeyValue{
		semconv.MessagingSystemKey.String(System(info.System)),
		semconv.MessagingDestinationName(info.Destination),
		semconv.MessagingDestinationSubscriptionName(info.Subscription),
		semconv.MessagingConsumerGroupName(info.Subscription),
	}
	h := &subscription{o: o, base: base, dest: info.Destination, caps: info.Capabilities, recvName: "receive " + info.Destination}
	for op := mq.SettleAck; op <= mq.SettleExpired; op++ {
		for i, emulated := range []bool{false, true} {
			set := attribute.NewSet(append(base, semconv.MessagingOperationName(op.String()), attribute.Bool("portmq.emulated", emulated))...)
			h.settleAdd[op][i] = []metric.AddOption{metric.WithAttributeSet(set)}
			h.settleRec[op][i] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(append(set.ToSlice(), semconv.MessagingOperationTypeSettle)...))}
		}
	}
	h.recvSet = attribute.NewSet(append(base, semconv.MessagingOperationName("receive"), semconv.MessagingOperationTypeReceive)...)
	h.recvAdd = []metric.AddOption{metric.WithAttributeSet(h.recvSet)}
	h.recvRec = []metric.RecordOption{metric.WithAttributeSet(h.recvSet)}
	h.procSet = attribute.NewSet(append(base, semconv.MessagingOperationName("process"), semconv.MessagingOperationTypeProcess)...)
	h.procAdd = []metric.AddOption{metric.WithAttributeSet(h.procSet)}
	h.procRec = []metric.RecordOption{metric.WithAttributeSet(h.procSet)}
	if o.metered && info.Backlog != nil {
		backlog := info.Backlog
		set := attribute.NewSet(base...)
		reg, err := o.m.meter.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
			n, err := backlog(ctx)
			if err != nil {
				return nil // unknown now; report nothing rather than a wrong 0
			}
			ob.ObserveInt64(o.m.backlog, n, metric.WithAttributeSet(set))
			return nil
		}, o.m.backlog)
		if err == nil {
			h.unregister = reg.Unregister
		}
	}
	return h
}

// instruments are the metrics every handle records into.
type instruments struct {
	meter       metric.Meter
	opDuration  metric.Float64Histogram
	sent        metric.Int64Counter
	consumed    metric.Int64Counter
	procDur     metric.Float64Histogram
	attempts    metric.Int64Histogram
	settles     metric.Int64Counter
	nacks       metric.Int64Counter
	deadLetters metric.Int64Counter
	extensions  metric.Int64Counter
	expiries    metric.Int64Counter
	active      metric.Int64UpDownCounter
	backlog     metric.Int64ObservableGauge
}

func newInstruments(m metric.Meter) (instruments, error) {
	var in instruments
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	in.meter = m
	var err error
	in.opDuration, err = m.Float64Histogram("messaging.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of messaging operation initiated by a producer or consumer client."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	add(err)
	in.sent, err = m.Int64Counter("messaging.client.sent.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Number of messages producer attempted to send to the broker."))
	add(err)
	in.consumed, err = m.Int64Counter("messaging.client.consumed.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Number of messages that were delivered to the application."))
	add(err)
	in.procDur, err = m.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of processing operation."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	add(err)
	in.attempts, err = m.Int64Histogram("portmq.delivery.attempt", metric.WithUnit("{attempt}"),
		metric.WithDescription("The attempt number of each delivery a Consumer processed."),
		metric.WithExplicitBucketBoundaries(1, 2, 3, 5, 10, 20, 50, 100))
	add(err)
	in.settles, err = m.Int64Counter("portmq.settlements", metric.WithUnit("{delivery}"),
		metric.WithDescription("Settling calls by operation (ack, nack, dead_letter, extend, expire), emulated or native, and error."))
	add(err)
	in.nacks, err = m.Int64Counter("portmq.nacks", metric.WithUnit("{delivery}"),
		metric.WithDescription("Nacks by delay bucket."))
	add(err)
	in.deadLetters, err = m.Int64Counter("portmq.dead_letters", metric.WithUnit("{message}"),
		metric.WithDescription("Dead-lettered messages by reason (max_attempts, permanent, requested)."))
	add(err)
	in.extensions, err = m.Int64Counter("portmq.lease.extensions", metric.WithUnit("{extension}"),
		metric.WithDescription("Lease extensions."))
	add(err)
	in.expiries, err = m.Int64Counter("portmq.lease.expiries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries whose lease ended before they were settled."))
	add(err)
	in.active, err = m.Int64UpDownCounter("portmq.consumer.handlers.active", metric.WithUnit("{handler}"),
		metric.WithDescription("Handlers a Consumer is running now."))
	add(err)
	in.backlog, err = m.Int64ObservableGauge("portmq.subscription.backlog", metric.WithUnit("{message}"),
		metric.WithDescription("Messages waiting in the subscription, as the backend counts them (lag for logs); absent where the backend cannot tell."))
	add(err)
	if len(errs) > 0 {
		return in, errs[0]
	}
	return in, nil
}

// errorType is error.type: mq's code for the error.
func errorType(err error) attribute.KeyValue {
	return semconv.ErrorTypeKey.String(mq.Code(err).String())
}

// producer observes one Producer.
type producer struct {
	o         *Observer
	startOpts []trace.SpanStartOption
	base      []attribute.KeyValue
	spanName  string
	okSet     attribute.Set
	okOpts    []metric.AddOption
	okRec     []metric.RecordOption
}

func (h *producer) StartSend(ctx context.Context, msgs mq.MessageList) (context.Context, map[string]string, func(error)) {
	o := h.o
	c := sendCalls.Get().(*sendCall)
	c.h, c.msgs, c.n = h, msgs, msgs.Len()
	if o.metered {
		c.start = time.Now()
	}
	var inject map[string]string
	if o.tracing {
		ctx, c.span = o.tracer.Start(ctx, h.spanName, h.startOpts...)
		if c.span.IsRecording() {
			c.span.SetAttributes(h.base...)
			c.span.SetAttributes(semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend)
			if c.n == 1 {
				c.span.SetAttributes(semconv.MessagingMessageBodySize(len(msgs.At(0).Body)))
			} else {
				c.span.SetAttributes(semconv.MessagingBatchMessageCount(c.n))
			}
		}
		if sc := c.span.SpanContext(); sc.IsValid() {
			if o.w3c {
				inject = traceContext(sc)
			} else {
				inject = make(map[string]string, 2)
				o.prop.Inject(ctx, propagation.MapCarrier(inject))
			}
		}
	}
	c.ctx = ctx
	return ctx, inject, c.endFunc
}

// sendCall is what one StartSend's end function needs. They are pooled,
// each with its end function bound once (mq calls it exactly once), so
// that observing a Send allocates no closure.
type sendCall struct {
	h       *producer
	ctx     context.Context
	span    trace.Span
	msgs    mq.MessageList
	n       int
	start   time.Time
	endFunc func(error)
}

var sendCalls sync.Pool

func init() {
	sendCalls.New = func() any {
		c := new(sendCall)
		c.endFunc = c.end
		return c
	}
}

func (c *sendCall) end(err error) {
	h, o, span, n, ctx := c.h, c.h.o, c.span, c.n, c.ctx
	if span != nil {
		if span.IsRecording() {
			if n == 1 && err == nil {
				span.SetAttributes(semconv.MessagingMessageID(c.msgs.At(0).ID))
			}
			if err != nil {
				span.SetAttributes(errorType(err))
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}
	if o.metered {
		d := time.Since(c.start).Seconds()
		if err == nil {
			o.m.opDuration.Record(ctx, d, h.okRec...)
			o.m.sent.Add(ctx, int64(n), h.okOpts...)
		} else {
			set := metric.WithAttributes(append(h.base, semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend, errorType(err))...)
			o.m.opDuration.Record(ctx, d, set)
			o.m.sent.Add(ctx, int64(n), set)
		}
	}
	endFunc := c.endFunc
	*c = sendCall{endFunc: endFunc}
	sendCalls.Put(c)
}

// traceContext returns what propagation.TraceContext's Inject writes for
// sc (traceparent, and tracestate when there is one), without its context
// lookup and string builder: Send's cost with a sampler that drops
// everything is mostly the span and this.
func traceContext(sc trace.SpanContext) map[string]string {
	const digits = "0123456789abcdef"
	var b [55]byte // "00-" trace ID "-" span ID "-" flags
	b[0], b[1], b[2], b[35], b[52] = '0', '0', '-', '-', '-'
	tid, sid := sc.TraceID(), sc.SpanID()
	for i, c := range tid {
		b[3+2*i], b[4+2*i] = digits[c>>4], digits[c&15]
	}
	for i, c := range sid {
		b[36+2*i], b[37+2*i] = digits[c>>4], digits[c&15]
	}
	f := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom)) // the flags Inject keeps
	b[53], b[54] = digits[f>>4], digits[f&15]
	if sc.TraceState().Len() == 0 {
		return map[string]string{"traceparent": string(b[:])}
	}
	return map[string]string{"traceparent": string(b[:]), "tracestate": sc.TraceState().String()}
}

// subscription observes one Subscription and its Consumers.
type subscription struct {
	o                *Observer
	base             []attribute.KeyValue
	dest             string
	caps             mq.Capabilities
	recvSet, procSet attribute.Set
	recvAdd, procAdd []metric.AddOption
	recvRec, procRec []metric.RecordOption
	unregister       func() error
	recvName         string
	settleAdd        [mq.SettleExpired + 1][2][]metric.AddOption
	settleRec        [mq.SettleExpired + 1][2][]metric.RecordOption
	processing       sync.Map // *mq.Delivery -> context of its process span
}

func (h *subscription) HandleClosed() {
	if h.unregister != nil {
		_ = h.unregister()
	}
}

// creation extracts the creation context a message carries.
func (h *subscription) creation(d *mq.Delivery) trace.SpanContext {
	if len(d.Attributes) == 0 {
		return trace.SpanContext{}
	}
	ctx := h.o.prop.Extract(context.Background(), propagation.MapCarrier(d.Attributes))
	return trace.SpanContextFromContext(ctx)
}

func (h *subscription) Received(ctx context.Context, start time.Time, ds mq.DeliveryList, err error) {
	o := h.o
	n := ds.Len()
	if n == 0 && err != nil && mq.Code(err) != mq.Unavailable {
		return // the caller's context ended or the handle closed: no operation to report
	}
	if o.tracing && h.receiveSpan(ctx) {
		opts := [...]trace.SpanStartOption{recvKind, trace.WithTimestamp(start)}
		_, span := o.tracer.Start(ctx, h.recvName, opts[:]...)
		if span.IsRecording() {
			span.SetAttributes(h.base...)
			span.SetAttributes(semconv.MessagingOperationName("receive"), semconv.MessagingOperationTypeReceive, semconv.MessagingBatchMessageCount(n))
			for i := range n {
				if sc := h.creation(ds.At(i)); sc.IsValid() {
					span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{semconv.MessagingMessageID(ds.At(i).ID)}})
				}
			}
			if err != nil {
				span.SetAttributes(errorType(err))
				span.SetStatus(codes.Error, err.Error())
			}
		}
		span.End()
	}
	if o.metered {
		d := time.Since(start).Seconds()
		if err != nil {
			set := metric.WithAttributes(append(h.base, semconv.MessagingOperationName("receive"), semconv.MessagingOperationTypeReceive, errorType(err))...)
			o.m.opDuration.Record(ctx, d, set)
			return
		}
		o.m.opDuration.Record(ctx, d, h.recvRec...)
		o.m.consumed.Add(ctx, int64(n), h.recvAdd...)
	}
}

var recvKind = trace.WithSpanKind(trace.SpanKindClient)

// receiveSpan reports whether a receive in ctx records a span.
func (h *subscription) receiveSpan(ctx context.Context) bool {
	switch h.o.receives {
	case ReceiveSpansAlways:
		return true
	case ReceiveSpansNever:
		return false
	}
	return trace.SpanContextFromContext(ctx).IsValid()
}

// nackBucket is a delay's bucket for the portmq.nacks metric.
func nackBucket(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Second:
		return "<1s"
	case d < 10*time.Second:
		return "<10s"
	case d < time.Minute:
		return "<1m"
	case d < 10*time.Minute:
		return "<10m"
	}
	return ">=10m"
}

// deadLetterReason is a reason's class for the portmq.dead_letters metric.
func deadLetterReason(reason string) string {
	switch {
	case strings.HasPrefix(reason, "max attempts"):
		return "max_attempts"
	case strings.HasPrefix(reason, "permanent error"):
		return "permanent"
	}
	return "requested"
}

func (h *subscription) Settled(d *mq.Delivery, st mq.Settlement) {
	o := h.o
	ctx := context.Background()
	if o.tracing && st.Op != mq.SettleExtend {
		// Settle spans only under a recorded process span: elsewhere they
		// would start traces of one span each.
		if v, ok := h.processing.Load(d); ok {
			h.settleSpan(v.(context.Context), d, st)
		}
	}
	if !o.metered {
		return
	}
	emu := 0
	if st.Emulated {
		emu = 1
	}
	if st.Err != nil {
		attrs := append(append(make([]attribute.KeyValue, 0, len(h.base)+3), h.base...),
			semconv.MessagingOperationName(st.Op.String()), attribute.Bool("portmq.emulated", st.Emulated), errorType(st.Err))
		o.m.settles.Add(ctx, 1, metric.WithAttributes(attrs...))
		if errors.Is(st.Err, mq.ErrLeaseExpired) {
			o.m.expiries.Add(ctx, 1, metric.WithAttributes(h.base...))
		}
		return
	}
	o.m.settles.Add(ctx, 1, h.settleAdd[st.Op][emu]...)
	if !st.Start.IsZero() && st.Op != mq.SettleExpired {
		o.m.opDuration.Record(ctx, time.Since(st.Start).Seconds(), h.settleRec[st.Op][emu]...)
	}
	switch st.Op {
	case mq.SettleNack:
		o.m.nacks.Add(ctx, 1, metric.WithAttributes(append(h.base, attribute.String("portmq.nack.delay", nackBucket(st.Delay)), attribute.Bool("portmq.emulated", st.Emulated))...))
	case mq.SettleDeadLetter:
		o.m.deadLetters.Add(ctx, 1, metric.WithAttributes(append(h.base, attribute.String("portmq.dead_letter.reason", deadLetterReason(st.Reason)))...))
	case mq.SettleExtend:
		o.m.extensions.Add(ctx, 1, h.settleAdd[st.Op][emu]...)
	case mq.SettleExpired:
		o.m.expiries.Add(ctx, 1, metric.WithAttributes(h.base...))
	}
}

// settleSpan records a settle span under the process span in parent.
func (h *subscription) settleSpan(parent context.Context, d *mq.Delivery, st mq.Settlement) {
	attrs := make([]attribute.KeyValue, 0, len(h.base)+5)
	attrs = append(attrs, h.base...)
	attrs = append(attrs, semconv.MessagingOperationName(st.Op.String()), semconv.MessagingOperationTypeSettle,
		semconv.MessagingMessageID(d.ID), attribute.Int("portmq.message.attempt", d.Attempt), attribute.Bool("portmq.emulated", st.Emulated))
	switch st.Op {
	case mq.SettleNack:
		attrs = append(attrs, attribute.Int64("portmq.nack.delay_ms", st.Delay.Milliseconds()))
	case mq.SettleDeadLetter:
		attrs = append(attrs, attribute.String("portmq.dead_letter.reason", st.Reason))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if !st.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(st.Start))
	}
	if sc := h.creation(d); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	_, span := h.o.tracer.Start(parent, st.Op.String()+" "+h.dest, opts...)
	if st.Err != nil {
		span.SetAttributes(errorType(st.Err))
		span.SetStatus(codes.Error, st.Err.Error())
	}
	span.End()
}

func (h *subscription) StartProcess(ctx context.Context, d *mq.Delivery) (context.Context, func(mq.ProcessResult)) {
	o := h.o
	start := time.Now()
	var span trace.Span
	if o.tracing {
		ctx, span = o.tracer.Start(ctx, "process "+h.dest, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(start))
		if span.IsRecording() {
			span.SetAttributes(h.base...)
			span.SetAttributes(semconv.MessagingOperationName("process"), semconv.MessagingOperationTypeProcess,
				semconv.MessagingMessageID(d.ID), semconv.MessagingMessageBodySize(len(d.Body)), attribute.Int("portmq.message.attempt", d.Attempt))
			if sc := h.creation(d); sc.IsValid() {
				span.AddLink(trace.Link{SpanContext: sc})
			}
			h.processing.Store(d, ctx)
		}
	}
	if o.metered {
		o.m.active.Add(ctx, 1, h.procAdd...)
		o.m.attempts.Record(ctx, int64(d.Attempt), h.procRec...)
	}
	return ctx, func(res mq.ProcessResult) {
		if span != nil && span.IsRecording() {
			h.processing.Delete(d)
			span.SetAttributes(attribute.String("portmq.outcome", res.Outcome.String()))
			if res.Outcome == mq.OutcomeRetried {
				span.SetAttributes(attribute.Int64("portmq.retry.delay_ms", res.NextDelay.Milliseconds()))
			}
			if res.Err != nil {
				span.RecordError(res.Err)
				span.SetAttributes(errorType(res.Err))
				span.SetStatus(codes.Error, res.Err.Error())
			}
		}
		if span != nil {
			span.End()
		}
		if o.metered {
			o.m.active.Add(ctx, -1, h.procAdd...)
			if res.Err != nil {
				o.m.procDur.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(append(h.base, semconv.MessagingOperationName("process"), semconv.MessagingOperationTypeProcess, errorType(res.Err))...))
				return
			}
			o.m.procDur.Record(ctx, time.Since(start).Seconds(), h.procRec...)
		}
	}
}
