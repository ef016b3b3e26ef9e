// Package rabbitmq is the portmq driver for RabbitMQ (3.10 or later), on
// github.com/rabbitmq/amqp091-go. A topic is a durable fanout exchange and
// each subscription a durable quorum queue bound to it, so every
// subscription gets every message and the handles of one subscription
// compete for its messages.
//
// Import it for its side effect to enable amqp:// and amqps:// URLs on mq's
// default mux:
//
//	import _ "github.com/portmq/portmq/drivers/rabbitmq"
//
//	p, err := mq.OpenProducer(ctx, "amqp://guest:guest@localhost:5672/?topic=orders")
//	s, err := mq.OpenSubscription(ctx, "amqp://guest:guest@localhost:5672/?topic=orders&subscription=payments&max_attempts=5")
//
// or make handles over a connection of your own with [NewTopic],
// [NewSubscription] and [NewAdmin] and wrap them with mq.NewProducer,
// mq.NewSubscription and mq.NewAdmin.
//
// # URLs
//
// A URL is a standard AMQP URI: amqp://USER:PASSWORD@HOST:PORT/VHOST (port
// 5672, or 5671 for amqps; an empty path is the vhost "/", which is written
// %2F when given explicitly). The password is never part of an error or a
// log line. Query parameters name the resources and their settings;
// unknown, repeated or invalid parameters fail with an error wrapping
// driver.ErrInvalidURL (code InvalidArgument). Durations use Go syntax
// (250ms, 30s, 5m) and must not be negative.
//
// Every URL takes the connection parameters:
//
//   - heartbeat: AMQP heartbeat, whole seconds. Default 10s.
//   - dial_timeout: bound on dialing and the AMQP handshake. Default 30s.
//
// A producer URL names the topic:
//
//	amqp://HOST/VHOST?topic=EXCHANGE&max_in_flight=500&max_body=16777216&unroutable=error
//
// Its parameters:
//
//   - topic (required): the exchange, declared (durable, fanout) if absent.
//   - max_in_flight: messages published and not yet confirmed, 1 to 65535.
//     Default 500. SendBatch pipelines its messages within this window.
//   - max_body: the largest body accepted, in bytes; 0 means no limit
//     below the broker's max_message_size. Default 16777216 (16 MiB).
//   - unroutable: what a send to a topic without any bound queue does.
//     "error" (default): the message is published with the mandatory flag,
//     the broker returns it, and Send fails with code FailedPrecondition,
//     because nothing stored the message. "drop": the send succeeds and
//     the broker drops the message, as pub/sub systems do.
//
// A subscription URL names the queue and its settings:
//
//	amqp://HOST/VHOST?topic=EXCHANGE&subscription=QUEUE&visibility=30s&max_attempts=5&dead_letter=EXCHANGE2&ordered=true&prefetch=256
//
// Its parameters:
//
//   - subscription (required): the queue, declared (durable, quorum) if
//     absent.
//   - topic: the exchange the queue is bound to (declared if absent).
//     Without it the queue is not bound, for example to read a dead-letter
//     queue. A queue belongs to the one topic it was first opened or
//     created with (see "Subscriptions belong to one topic").
//   - visibility: the lease of a delivery. Default 30s.
//   - max_attempts: failed deliveries after which a message is
//     dead-lettered; 0 (default) means never.
//   - dead_letter: the topic dead letters go to. Default QUEUE.dlq when
//     max_attempts is set, else none. A dead-letter topic named QUEUE.dlq
//     also gets a queue QUEUE.dlq bound to it, so dead letters are kept;
//     read them at ?topic=QUEUE.dlq&subscription=QUEUE.dlq.
//   - ordered: deliver the messages of one Key in order, one at a time.
//     Default false.
//   - prefetch: the AMQP prefetch count, 1 to 65535. Default 256.
//   - idle_cancel: see "Consuming" below; 0 turns it off. Default 250ms.
//   - max_in_flight, max_body: as for producers (the subscription
//     republishes delayed retries and dead letters).
//
// The settings max_attempts, dead_letter and ordered become arguments of
// the queue. RabbitMQ fixes a queue's arguments when it is created, so
// every handle of a queue must give the same ones: opening it with other
// settings fails with code FailedPrecondition and an error that names the
// setting that differs. The lease is not stored in the broker. RabbitMQ 4
// gives quorum queues a delivery limit of 20 unless told otherwise, so on
// RabbitMQ 4 a queue without max_attempts is declared with
// x-delivery-limit -1 (no limit); a queue that RabbitMQ 3 created has no
// such argument and must be re-created after an upgrade to 4. The driver
// is tested against RabbitMQ 3.10.
//
// An admin URL is just amqp://HOST/VHOST with the connection parameters.
// Its CreateSubscription declares the queue with the same arguments as a
// subscription URL with those settings; DeleteSubscription deletes the
// queue, its claim for its topic and its wait queues but not its
// dead-letter queue.
//
// # Subscriptions belong to one topic
//
// A subscription is a queue, and RabbitMQ's queue names are global to the
// vhost: subscription=S on topic A and on topic B would be one queue bound
// to both exchanges, each handle getting both topics' messages. The driver
// refuses that instead (rule 9 allows a refusal where names are global):
// a queue opened or created with a topic is claimed for it, by an internal
// exchange QUEUE.portmq-topic whose alternate-exchange argument names the
// topic (RabbitMQ compares that argument on every declare; the exchange
// routes nothing). Opening or creating S on another topic then fails, before
// the queue is touched, with code FailedPrecondition and an error naming
// the topic S belongs to; use another name on the other topic, or delete S
// first (Admin.DeleteSubscription frees the name). The queue keeps the
// name you gave it: the alternative, a queue named after topic and
// subscription, would have orphaned every existing queue and its messages
// and made names ambiguous ("a.b" + "c" against "a" + "b.c"). A queue
// created by an earlier version of the driver has no claim until it is
// first opened with a topic, and one already bound to two exchanges stays
// so: unbind it by hand (rabbitmqctl, the management UI).
//
// # Semantics
//
// Sending is durable (rule 1): every message is persistent and SendBatch
// returns only when the broker has confirmed each one (publisher
// confirms). A message the broker did not confirm, because the channel or
// connection was lost first, fails with code Unavailable: it may or may not
// have been stored, so a retry may duplicate it. The message ID is set by
// the driver (the AMQP message-id property).
//
// What is native, what the driver does, and what mq emulates:
//
//   - Lease: none in RabbitMQ, so mq keeps it in the client: a delivery
//     whose lease ends is nacked and comes back with Attempt + 1; Extend
//     moves it. The broker's consumer_timeout (30 minutes by default)
//     still applies to every delivery the handle holds, however long mq
//     extends it: past it the broker closes the channel, the deliveries
//     go back (counting an attempt) and the handle reconnects. Raise
//     consumer_timeout in rabbitmq.conf for longer work.
//   - Attempts: native, from the quorum queue's x-delivery-count (every
//     failed delivery counts: a nack, a lease end, a closed channel or
//     connection, a consumer crash). The driver gives a message back with
//     basic.reject, which every RabbitMQ version counts as a failed
//     delivery (from 4.3 on, basic.nack is not counted). A delayed retry
//     republishes the message, so the driver carries the attempts made so
//     far in a header. See "Faults" for what a cut or a restart counts.
//   - Dead-letter: native. max_attempts sets the quorum queue's
//     x-delivery-limit (to max_attempts-1: the broker dead-letters after
//     limit+1 failed deliveries), always together with a dead-letter
//     exchange and at-least-once dead-lettering; without a dead-letter
//     exchange RabbitMQ would drop the message. A message nacked at
//     max_attempts is dead-lettered through the broker: the driver rejects
//     it without requeue, and the queue's dead-letter exchange moves it in
//     one step (a fault cannot leave both the message and its dead letter).
//     DeadLetter(reason), which carries its own reason, is moved by the
//     driver: published to the dead-letter topic with the attributes
//     portmq-dead-letter-reason, portmq-attempts and portmq-source, then
//     acked. Messages the broker dead-lettered (a nack at max_attempts, or
//     a last failure that was a crash or a closed channel) get the same
//     attributes when they are read, from the x-death header (reason "max
//     attempts (N) reached"; N travels in the dead-letter routing key); a
//     message some other client rejected without requeue from a queue with
//     max_attempts reads the same way.
//   - Nack with delay: done by the driver. The message is republished to
//     a wait queue of the subscription, QUEUE.portmq-wait-<ms>ms, whose
//     message TTL dead-letters it back to the queue, and the delivery is
//     acked. Per-message TTLs only expire at the head of a queue, so there
//     is one wait queue per delay bucket and every message in it waits the
//     same time: no message waits behind a longer one. Delays are rounded
//     up to the next bucket of the series 100, 120, 150, 200, 250, 300,
//     400, 500, 600, 800 ms, 1 s, 1.2 s, ... (times powers of ten, up to
//     the broker's maximum TTL of 49.7 days): never early, at most 25 %
//     late, and at least 100 ms (Capabilities.Granularity is 100 ms). Wait
//     queues are quorum queues with x-expires; the driver declares each
//     again before it could expire while holding messages.
//   - Delay (Message.Delay): done by the driver the same way, through
//     delay queues of the topic, EXCHANGE.portmq-delay-<ms>ms, whose TTL
//     dead-letters the message to the exchange; same buckets.
//   - Ordering: ordered subscriptions use a single active consumer
//     (x-single-active-consumer): one handle at a time receives, the
//     others stand by. The driver hands out one message per key at a time
//     and keeps later ones of the key in the handle until the one out is
//     acked or dead-lettered. A nacked message of an ordered subscription
//     is not requeued (it would lose its place to the key's later
//     messages): the handle delivers it again itself, counting the
//     attempt, and mq holds it for a nack delay (Capabilities.NackDelay
//     is none on ordered handles). Attempts counted this way are lost if
//     the process dies; the broker then counts only the crash. Parked
//     messages use prefetch slots: a key with more than prefetch messages
//     waiting behind a failing one holds up the other keys.
//   - Dedup: none in RabbitMQ; use mq's consumer-side idempotency store.
//   - Seek: none (quorum queues do not keep acked messages).
//
// Limits: bodies up to max_body (16 MiB by default); 32 attributes
// (AMQP headers with string values; headers set by other publishers with
// other scalar types are formatted as strings, tables and arrays are
// dropped). The headers portmq-key, portmq-dedup-id and
// portmq-prior-attempts carry Key, DedupID and the attempts before a
// delayed retry; x-death, x-delivery-count and x-first-death-* are the
// broker's. None of them appears as an attribute.
//
// # Consuming
//
// A handle starts its AMQP consumer when it is first read, not when it is
// opened. AMQP pushes messages to consumers up to the prefetch count, so a
// handle that is no longer read would hold messages other handles could
// take: when no receive has been waiting for idle_cancel (and at once when
// a receive gives up because its context ended, and before a message is
// requeued while no receive waits), the handle cancels its consumer.
// Messages it already has stay with it, unacked, for its next receive,
// and go back to the queue when it is shut down. Messages fetched but not
// received when a handle shuts down go back counting an attempt (RabbitMQ
// counts every return), so keep the prefetch modest where handles come
// and go often. Ordered subscriptions never cancel (that would pass the
// single active consumer on); they always hold up to prefetch messages.
//
// # Reconnecting
//
// amqp091-go does not reconnect. Each handle has its own connection; when
// it or the channel is lost (a network cut, a broker restart,
// consumer_timeout, the queue deleted under a consumer), the next call
// dials again, once, within the call's context (callers that need the
// connection while a dial runs share its outcome), declares the topology
// again (re-creating a deleted queue) and resumes. The driver does not
// retry by itself: a failed dial or a lost channel is an Unavailable
// error, and mq waits the outage out (see mq's "Faults"): a Send or a
// Receive whose context outlasts the outage succeeds after it, and one
// whose context ends first fails with code Unavailable (IsRetryable). A
// message that was unconfirmed when the channel broke fails Unavailable
// too and is sent again by mq's retry: it may be stored twice. Opening a
// handle and Admin calls dial once and fail Unavailable during an outage;
// retry them. Settling a delivery of a lost channel fails with an error
// matching mq.ErrLeaseExpired (code FailedPrecondition) that says the
// channel is gone; the broker delivers the message again. Handles made
// with NewTopic or NewSubscription reconnect only through Options.Redial:
// without it, their calls after the connection is lost fail at once with
// code FailedPrecondition (not retryable: nothing will give the handle a
// connection).
//
// # Faults
//
// A network cut (every connection reset) and a broker restart
// (rabbitmqctl stop_app/start_app, or a crash) do the same to a handle:
// its connection is gone, and the next call dials again as above. Both
// are tested by the conformance suite, through a fault proxy and by
// restarting the broker. No confirmed send is lost. What a fault counts
// as an attempt, exactly:
//
//   - A delivery the handle held when its channel closed, handed out or
//     only prefetched (up to prefetch messages, which the handle keeps
//     until they are received), goes back to the queue counting one
//     attempt: RabbitMQ counts every return and cannot tell a fault from
//     a failure. So a fault adds at most one attempt to a message, and
//     none to a message waiting in the queue. With max_attempts that
//     attempt brings the message closer to its dead letter: a message that
//     failed max_attempts-1 times and was then held through a fault is
//     dead-lettered. Keep prefetch modest where faults are frequent.
//   - A nack, a dead-letter or a lease end of a delivery whose channel is
//     gone does nothing but fail with ErrLeaseExpired: the return above
//     counted already.
//   - A delayed nack and DeadLetter(reason) publish a copy, then ack the
//     original; a fault between the copy's confirm and the ack leaves
//     both. The handle remembers the original and drops it when it comes
//     back to this handle (the usual case: the handle reconnects and gets
//     it first); if another handle gets it first, that one delivers it
//     once more, with one more attempt, besides the copy. A nack at
//     max_attempts cannot be duplicated: the broker dead-letters it in one
//     step (see Dead-letter above).
//   - Attempts the handle counts itself on an ordered subscription are
//     lost when its channel closes; the broker counts the fault.
//
// # Errors
//
// AMQP reply codes map to portmq codes: ACCESS_REFUSED to PermissionDenied
// (Unauthenticated for a refused login), NOT_FOUND to NotFound (also an
// unknown vhost), PRECONDITION_FAILED and RESOURCE_LOCKED to
// FailedPrecondition, RESOURCE_ERROR to ResourceExhausted,
// NOT_IMPLEMENTED to Unsupported, protocol errors the broker sends to
// Internal. Every error of a lost connection is Unavailable and retryable:
// CONNECTION_FORCED (a broker shutting down), a closed channel or
// connection (amqp091-go's ErrClosed), the FRAME_ERROR amqp091-go reports
// itself when the connection fails under it (an EOF, a reset, a broken
// pipe, a heartbeat timeout; its Server field is false), and network
// errors (classified by driver.NetworkCode, as in every driver).
//
// # As
//
// Producers, subscriptions and admins accept **amqp091.Connection (the
// handle's current connection); producers and subscriptions also
// **amqp091.Channel (the confirm channel of a producer, the consume
// channel of a subscription). A Delivery accepts **amqp091.Delivery.
// ErrorAs accepts **amqp091.Error, *net.Error and **net.OpError.
package rabbitmq
