// Package mq is portmq's portable messaging API: produce, subscribe and
// consume with acknowledgement, with the same semantics on every backend.
//
// A URL picks the backend; a blank import registers it:
//
//	import _ "github.com/portmq/portmq/memdriver" // mem://
//
//	p, err := mq.OpenProducer(ctx, "mem://orders")
//	sub, err := mq.OpenSubscription(ctx, "mem://orders/payments?max_attempts=5")
//
// Moving from the in-memory engine to a broker is a change of URL.
//
// # Sending
//
// Producer.Send returns once the backend has durably accepted the message
// and sets Message.ID. Invalid input (over-size body, more than
// MaxAttributes attributes, keys that are not UTF-8 or use the reserved
// "portmq-" prefix, nil messages) fails with InvalidArgument before
// anything is sent. Message.Delay defers delivery; where the backend cannot
// delay, mq carries the due time in an attribute and holds the message on
// the receiving side.
//
// # Receiving
//
// Subscription.Receive blocks until a delivery is available (no polling).
// Every Delivery carries Attempt (1-based) and must be settled once: Ack
// (done), Nack(delay) (try again no sooner than delay, Attempt + 1), or
// DeadLetter(reason) (move to the dead-letter destination now). Extend
// pushes the lease. A delivery not settled before its lease ends is
// delivered again. Settling twice returns an error matching ErrSettled;
// nothing panics. Acks from many goroutines are batched into few driver
// calls without added latency (group commit). A call naming more
// deliveries than the backend takes at once (Capabilities.MaxBatch: 10 on
// SQS) goes to it in several requests, concurrently, with each item's
// error at its own index.
//
// # Consuming
//
// A Consumer runs a Handler with bounded concurrency (WithConcurrency),
// extends leases while handlers run (up to WithMaxExtension), retries
// failures with exponential backoff and jitter (WithBackoff), dead-letters
// permanent errors (Permanent) and messages at max attempts, processes
// messages of one key serially on ordered subscriptions, runs the handler to
// success at most once per DedupID with an IdempotencyStore
// (WithIdempotency), and drains gracefully on Shutdown.
//
// # Emulation
//
// Drivers declare in Capabilities what their backend does natively. mq
// emulates the rest once, here, for every driver: the lease (nack at its
// end), delayed nacks and delayed delivery (hold the delivery, extending
// its lease, until due), and dead-lettering (republish with the metadata
// attributes AttrDeadLetterReason, AttrAttempts and AttrSource, then ack).
// Replay cannot be emulated: Seek on a backend without it returns an error
// matching ErrUnsupported and errors.ErrUnsupported (as does Backlog where
// the backend cannot count). Producer-side deduplication is not emulated
// either, and not refused: a DedupID on a backend without it
// (Capabilities().Dedup) is carried to the consumer, where a Consumer with
// an IdempotencyStore (WithIdempotency) runs the handler once per DedupID.
//
// # Faults
//
// A network cut or a broker restart is normal. Drivers report a lost or
// refused connection as Unavailable and dial again on their next call; mq
// waits the outage out once, for every driver: Send and SendBatch try the
// messages that failed Unavailable again, and Receive and ReceiveBatch
// fetch again, pausing 50 ms doubling to 2 s (jittered) between tries,
// until their context ends or Shutdown begins. Then they return an
// Unavailable error, or DeadlineExceeded where the driver's own call was
// still waiting for the backend when the context ended (Kafka, Pub/Sub);
// IsRetryable is true for both. A send whose confirm
// was lost in the cut may be delivered twice (give it a DedupID where that
// matters); a delivery held when the connection dropped comes back with
// one more attempt; a Consumer keeps running through any outage and stops
// only on Shutdown. Where mq keeps the lease itself, a delivery it could
// not hand back during an outage is handed back when the backend returns.
// Shutdown hands held deliveries back at once even when its context has
// ended, and closes the driver only after every call on it returned.
// IdempotencyStore claims hold across processes only with a shared store
// (drivers/redis, drivers/postgres).
//
// # Time
//
// Every lease, delay, hold, backoff and idle time portmq keeps itself
// (lease keeping, emulated leases and delays, retry backoff, the pauses
// while an outage lasts, ForwardIdle) is measured with one clock.Clock per
// handle: WithProducerClock, WithSubscriptionClock (which the Consumers
// over the Subscription share; WithConsumerClock overrides it) or the
// URLMux's SetClock; by default the driver's own clock where the driver
// exposes one (driver.Clocked: memdriver does, so an Engine on a
// clock.Fake runs mq on the same fake time with no option), else
// clock.Real. Deadlines of the contexts passed in, and the bound of the
// driver call that hands deliveries back at Shutdown, stay on real time;
// a test that needs those fake too runs in a testing/synctest bubble.
//
// # Errors
//
// Every error is an *Error, except the partial failures of SendBatch and
// of the batch settling calls (AckBatch, ...), which are a *BatchError
// holding each message's error (errors.Is and errors.As look through it
// to them). Code classifies an *Error (NotFound, InvalidArgument,
// Unavailable, Closed, ...); errors.Is matches the sentinels (ErrNotFound,
// ErrClosed, ErrSettled, ErrLeaseExpired, ...); IsRetryable says whether to
// try again; errors.As, or the ErrorAs methods, reach the driver's native
// error. Error texts never contain credentials.
//
// # Drivers
//
// Backends implement the interfaces of package driver and register URL
// schemes with Register from init. Every driver is checked by the exported
// suite in package conformance.
package mq
