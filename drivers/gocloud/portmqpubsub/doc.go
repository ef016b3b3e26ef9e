// Package portmqpubsub is a Go Cloud Development Kit pubsub driver
// (gocloud.dev/pubsub/driver) over portmq: an application written against
// the Go CDK's portable pubsub API gains portmq's backends and semantics by
// changing a URL. It implements the driver interface of gocloud.dev
// v0.47.0 and passes that version's conformance suite
// (gocloud.dev/pubsub/drivertest) over memdriver.
//
// The other direction, the Go CDK's drivers behind portmq's API, is package
// [github.com/portmq/portmq/drivers/gocloud].
//
// # URLs
//
// Import this package and the portmq drivers you use for their side
// effects:
//
//	import (
//		_ "github.com/portmq/portmq/drivers/gocloud/portmqpubsub"
//		_ "github.com/portmq/portmq/memdriver"
//	)
//
//	topic, err := pubsub.OpenTopic(ctx, "portmq+mem://orders")
//	sub, err := pubsub.OpenSubscription(ctx, "portmq+mem://orders/billing?max_attempts=5")
//
// The package registers portmq+SCHEME on the Go CDK's default mux for each
// scheme in [Schemes] (mem, amqp, amqps, kafka, sqs, sns, gcppubsub);
// [Register] adds others. A URL portmq+SCHEME://REST opens the portmq URL
// SCHEME://REST with mq.OpenProducer (topics) or mq.OpenSubscription
// (subscriptions): the URL, its credentials and every query parameter are
// the portmq driver's (see its package doc), and portmq validates them. A
// scheme whose portmq driver is not imported fails with an error naming
// the package. Open errors are portmq's (*mq.Error: mq.Code and
// errors.Is(err, mq.ErrNotFound) work on them; gcerrors.Code reports
// Unknown, as for the Go CDK's own URL openers) and never contain a
// password. [OpenTopic] and [OpenSubscription] wrap a Producer or
// Subscription you opened yourself; [URLOpener] opens through an
// mq.URLMux of your own.
//
// # Semantics
//
// Everything portmq does holds behind the Go CDK API, on every backend:
// Send returns once the backend has the message; an unacked message is
// delivered again after the subscription's lease; Nack redelivers
// promptly with Attempt + 1 and dead-letters at the subscription's
// max_attempts (portmq emulates what the backend lacks). The mapping:
//
//   - Topic.Send: the Go CDK's batches become one Producer.SendBatch;
//     Metadata becomes Attributes, so portmq's limits apply (at most 32,
//     keys of 1 to 128 bytes not starting with "portmq-", values up to
//     4096 bytes; more is InvalidArgument).
//   - Subscription.Receive: Metadata is the delivery's Attributes (with
//     portmq's dead-letter metadata on dead letters), LoggableID its ID.
//     The driver's ReceiveBatch waits (without polling) up to a second.
//   - Message.Ack: Delivery.Ack. Nack: Delivery.Nack(0) (CanNack is true on
//     every backend). Acking or nacking a delivery that was settled
//     already or whose lease ended is not an error, as the Go CDK asks (the
//     message is delivered again).
//   - Error codes: mq.Code maps to gcerrors one to one, except Unavailable
//     → Unknown (retried: IsRetryable reports true for Unavailable and
//     ResourceExhausted), Unauthenticated → PermissionDenied, Closed →
//     FailedPrecondition (the Go CDK's code for a shut-down object), and
//     Unsupported → Unimplemented. A partial batch failure is classified by
//     its first failed item.
//   - Shutdown shuts the portmq Producer or Subscription down, which hands
//     unsettled deliveries back at once.
//
// What the Go CDK API cannot say is reachable through As: a delay on Nack,
// Extend, DeadLetter, the Attempt count, Key, DedupID, Delay on send.
//
// # As
//
//   - Topic.As: **mq.Producer; other types go to Producer.As (the portmq
//     driver's native client, for example **memdriver.Engine).
//   - Subscription.As: **mq.Subscription; other types go to
//     Subscription.As.
//   - Message.As (received): **mq.Delivery, with Attempt, Key, DedupID,
//     PublishedAt, Extend, Nack(delay) and DeadLetter; other types go to
//     Delivery.As. After settling through the *mq.Delivery, still call the
//     Go CDK message's Ack (it is ignored) so the Go CDK does not log it
//     as never acked.
//   - Message.BeforeSend: **mq.Message: set Key, DedupID or Delay.
//   - Message.AfterSend: **mq.Message: read the ID the backend gave.
//   - ErrorAs: **mq.Error, **mq.BatchError, and the portmq driver's native
//     errors (Producer.ErrorAs, Subscription.ErrorAs).
package portmqpubsub
