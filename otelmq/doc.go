// Package otelmq records OpenTelemetry traces and metrics for portmq, on
// every driver at once: it implements mq.Observer, which mq calls around
// its sends, receives, settlements and the Consumer's handler. Package mq
// itself does not depend on OpenTelemetry.
//
//	obs, err := otelmq.New(otelmq.WithTracerProvider(tp), otelmq.WithMeterProvider(mp))
//	if err != nil { ... }
//	mq.SetDefaultObserver(obs) // every handle opened from now on
//
// # Conventions
//
// Spans and metrics follow the OpenTelemetry semantic conventions for
// messaging, version 1.43.0 (SemConvVersion; still "Development" there,
// so names may change in a later version of this package):
//
//   - "send DEST", kind PRODUCER, for each Send and SendBatch, a child of
//     the caller's span. Its context is the messages' creation context: it
//     travels in each message through the configured propagator (W3C
//     traceparent and tracestate by default), as the attributes
//     "traceparent" and "tracestate". They are added to what the backend
//     carries, not to Message.Attributes, on top of the 32 attributes a
//     message may have: mq counts only the application's attributes
//     against MaxAttributes. A message that sets those keys itself keeps
//     its own values.
//   - "receive DEST", kind CLIENT, for a Receive or ReceiveBatch that
//     returned deliveries, with a link to each message's creation context:
//     by default only for one called inside a trace (its context carries
//     a span), as that span's child; WithReceiveSpans(ReceiveSpansAlways)
//     records one for every call, each outside a trace a trace of its
//     own, and ReceiveSpansNever none. A Consumer's receives run outside
//     any trace: its process spans carry the message's path.
//   - "process DEST", kind CONSUMER, around the Consumer's handler: the
//     handler's ctx carries it. It starts a trace of its own (the
//     Consumer's context has no span) and links to the creation context,
//     so a message sent in one trace is processed in another, linked.
//     A redelivery links to the same creation context; a dead letter
//     keeps it in its attributes.
//   - "ack DEST", "nack DEST", "dead_letter DEST", "expire DEST", kind
//     CLIENT (messaging.operation.type settle), children of the process
//     span when the Consumer settles, linked to the creation context.
//
// Attributes: messaging.system, messaging.destination.name,
// messaging.destination.subscription.name and messaging.consumer.group.name
// (the subscription), messaging.operation.name and .type,
// messaging.message.id, messaging.message.body.size,
// messaging.batch.message_count, error.type (mq's error code, such as
// "Unavailable"), and portmq's own portmq.message.attempt, portmq.outcome
// (acked, retried, dead_lettered, duplicate, handed_back),
// portmq.retry.delay_ms, portmq.nack.delay_ms, portmq.dead_letter.reason
// and portmq.emulated (mq did it on top of the backend).
//
// messaging.system is the registered value where the conventions have
// one: rabbitmq (amqp, amqps, gocloud+rabbit), kafka, aws_sqs, aws.sns,
// gcp_pubsub; and portmq's own elsewhere: portmq_mem (mem), redis,
// postgresql, nats, aws_kinesis, gocloud (other Go CDK drivers),
// watermill (watermill+ bridges). See System.
//
// # Metrics
//
// From the conventions: messaging.client.operation.duration (s; send,
// receive and each settle), messaging.client.sent.messages,
// messaging.client.consumed.messages and messaging.process.duration (s).
// portmq's own, which explain a backlog: portmq.delivery.attempt (the
// attempt of each processed delivery), portmq.nacks (by
// portmq.nack.delay bucket: 0, <1s, <10s, <1m, <10m, >=10m),
// portmq.dead_letters (by portmq.dead_letter.reason: max_attempts,
// permanent, requested), portmq.lease.extensions, portmq.lease.expiries
// (seen where mq keeps the lease, or when a settle fails with
// ErrLeaseExpired), portmq.settlements (by operation, portmq.emulated and
// error.type), portmq.consumer.handlers.active, and the gauge
// portmq.subscription.backlog where the backend can count its backlog
// (mq.Subscription.Backlog: mem, SQS ApproximateNumberOfMessages,
// RabbitMQ's queue depth, Kafka's group lag; Pub/Sub has no such API, so
// it reports nothing there).
//
// # Cost
//
// Given the providers of the OpenTelemetry noop packages, New returns an
// Observer whose handles are not observed at all, so the cost is a nil
// check per operation. The global providers before an SDK is installed
// hand out no-op spans and instruments: cheap, but not free. With the SDK
// and a sampler that drops everything, spans are not recorded but each
// send still asks the sampler, makes a span context and carries it
// (propagation.TraceContext's traceparent is written without the
// propagator's generic path): about 0.8 µs of producer CPU and 5
// allocations a message on the 2-core development machine, lost in a
// broker's round trip, visible on mem. Receive spans are made only inside
// a trace by default. See the README's Observability section for the
// measured figures (BenchmarkEndToEnd, BenchmarkEndToEndRabbitMQ).
package otelmq
