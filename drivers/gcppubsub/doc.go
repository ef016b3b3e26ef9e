// Package gcppubsub is the portmq driver for Google Cloud Pub/Sub, on
// cloud.google.com/go/pubsub/v2.
//
// Import it for its side effect to enable gcppubsub:// URLs on mq's
// default mux:
//
//	import _ "github.com/portmq/portmq/drivers/gcppubsub"
//
//	p, err := mq.OpenProducer(ctx, "gcppubsub://projects/my-project/topics/orders")
//	sub, err := mq.OpenSubscription(ctx, "gcppubsub://projects/my-project/subscriptions/billing")
//
// or open handles on a *pubsub.Client of your own with [OpenTopic],
// [OpenSubscription] and [OpenAdmin] and wrap them with mq.NewProducer,
// mq.NewSubscription and mq.NewAdmin, or register a [URLOpener] with client
// options on your own mq.URLMux.
//
// # Credentials and emulators
//
// The registered opener creates clients with pubsub.NewClient: when
// PUBSUB_EMULATOR_HOST is set (the gcloud emulator, or pstest) they talk
// plaintext to it without credentials; otherwise they use Application
// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user
// credentials, or the metadata server). URLs carry no credentials: one
// with user info is refused, and neither it nor anything of the
// credentials appears in errors. Handles of one project opened by one
// URLOpener share a client, closed with the last handle.
//
// # URLs
//
// A topic or subscription URL names a project and a resource ID, in the
// full form or a short form:
//
//	gcppubsub://projects/PROJECT/topics/TOPIC          producer
//	gcppubsub://PROJECT/TOPIC                          producer (short form)
//	gcppubsub://projects/PROJECT/subscriptions/SUB     subscription
//	gcppubsub://PROJECT/SUB                            subscription (short form)
//	gcppubsub://projects/PROJECT  or  gcppubsub://PROJECT   admin
//
// IDs follow Pub/Sub's rules: 3 to 255 bytes of letters, digits and
// - . _ ~ + %, starting with a letter, not with "goog". Opening a producer
// does not look the topic up (the publisher role cannot): sending to a
// missing topic fails with code NotFound. Opening a subscription reads its
// configuration (GetSubscription); a missing subscription fails with code
// NotFound. Unknown, repeated or invalid parameters are errors wrapping
// driver.ErrInvalidURL (code InvalidArgument).
//
// Producer parameters:
//
//   - batch_delay: how long the publisher waits to fill a batch before
//     sending it (PublishSettings.DelayThreshold); default 10ms, the
//     client's; 0 sends at once. Send waits for the batch it joined.
//
// Subscription parameters describe the subscription when its configuration
// cannot be read (roles/pubsub.subscriber lacks pubsub.subscriptions.get);
// when it can, a parameter given must agree with it, else opening fails
// with code FailedPrecondition (see [SubscriptionOptions]):
//
//   - ack_deadline: the ack deadline, 1s to 10m; default 10s.
//   - max_attempts: 0 to 100; non-zero needs the dead_letter topic.
//   - dead_letter: the dead-letter topic, an ID or a full name. On a
//     subscription without a dead-letter policy it is where
//     Delivery.DeadLetter sends messages.
//   - ordered: true if the subscription has message ordering enabled.
//
// Admin URLs take no parameters. Provision with mq.OpenAdmin (or the
// portmq CLI); see the Admin section.
//
// # Semantics
//
// Native:
//
//   - Lease: the subscription's ack deadline (Pub/Sub: 10 s to 600 s).
//     Delivery.Extend is ModifyAckDeadline, in whole seconds rounded up,
//     capped at 600 s. Pub/Sub silently ignores acks of expired ack IDs, so
//     the driver keeps each delivery's deadline (never later than the
//     server's) and fails Ack, Nack and Extend after it with
//     ErrLeaseExpired: the message will come back.
//   - Nack(delay): ModifyAckDeadline(delay), rounded up to whole seconds
//     (granularity 1 s); Nack(0) is a deadline of 0, a prompt redelivery.
//     Delays above 600 s are emulated by mq: it holds the delivery,
//     extending its deadline, and nacks it when due.
//   - Attempts: Pub/Sub's delivery_attempt, which it fills only on a
//     subscription with a dead-letter policy; there Delivery.Attempt counts
//     deliveries across consumers and crashes. A subscription without a
//     policy reports the attempts capability as none and Attempt 1.
//   - Dead-lettering: the subscription's DeadLetterPolicy when max attempts
//     is 5 to 100 (Pub/Sub's range). Pub/Sub adds the attributes
//     CloudPubSubDeadLetterSource*; a dead letter received through this
//     driver also carries portmq-dead-letter-reason, portmq-attempts and
//     portmq-source (projects/P/subscriptions/S) derived from them.
//     Delivery.DeadLetter(reason) has no Pub/Sub counterpart: mq republishes
//     the message to the dead-letter topic with the metadata, then acks it.
//   - Ordering: ordering keys (Message.Key) and subscriptions with message
//     ordering enabled. The publisher orders by key; after a failed publish
//     on a key the client pauses the key, and the driver resumes it at once
//     (or, when the sender stopped waiting, as soon as the publish fails),
//     so the sender decides what to send again and the key never stays
//     blocked. Pub/Sub may hand out several messages of a key in one Pull;
//     a handle on an ordered subscription gives out one per key at a time
//     and holds the later ones (extending their deadlines) until it is
//     acked. When it is nacked or its lease ends, the handle hands the
//     held ones back at once, since Pub/Sub delivers it again before them.
//   - Seek(t): Seek to a time. It replays messages published at or after t
//     that the subscription retains: unacked ones always, acked ones with
//     retain_acked_messages (the admin sets it from Retention) or topic
//     retention.
//
// Emulated by mq or the driver:
//
//   - Max attempts of 1 to 4 (below Pub/Sub's minimum of 5): the admin
//     gives the subscription a dead-letter policy of 5 as a backstop, so
//     that delivery_attempt is counted, and the label portmq-max-attempts;
//     mq dead-letters at the label's count by republishing with reason,
//     attempts and source and acking (the capability dead-letter reads
//     none). Above 100 is refused: Pub/Sub counts no further.
//   - Delay (Message.Delay): Pub/Sub has none; mq carries the due time in
//     an attribute and holds the message on the receiving side.
//   - DedupID travels in the attribute portmq-dedup-id (removed on
//     receipt). Pub/Sub cannot drop duplicates (capability dedup none): use
//     a Consumer with an IdempotencyStore.
//   - A message with neither body nor attributes, which Pub/Sub refuses,
//     travels with the attribute portmq-empty (removed on receipt).
//
// Receiving uses unary Pull, not streaming pull. Pull maps one to one onto
// the driver's ReceiveBatch: the server hands out as many messages as mq
// asks for, when it asks, and each delivery's deadline is known to the
// driver. A StreamingPull pushes messages into a local buffer as flow
// control allows, where their deadlines run unless the client keeps
// extending them, which is what the client library's Subscriber.Receive
// does on its own, against the SPI's rule that policy lives in mq. Each
// Pull runs on its own goroutine for as long as the subscription is open:
// if the Receive that started it gives up first, its messages are handed
// to the next Receive rather than lost in a canceled response, and those
// not taken while a quarter of their lease is left are nacked at once, so
// none sits in a buffer while its deadline runs out. (pstest, the
// in-process fake, also pushes only about one message per 10 ms per
// stream, against thousands per second by Pull.)
//
// Limits: bodies up to 9,934,464 bytes (10 MB less room for attributes);
// attribute keys up to 256 bytes and values up to 1024 bytes (tighter than
// portmq's 4096; longer ones fail with InvalidArgument before anything is
// sent); keys starting with "goog" are reserved; ordering keys up to 1024
// bytes; 1000 messages per batch. Close hands every unsettled delivery of
// the handle back at once (ModifyAckDeadline 0).
//
// Errors carry the client's *apierror.APIError (with its gRPC status); the
// codes map as NotFound, AlreadyExists, InvalidArgument (also OutOfRange),
// FailedPrecondition, PermissionDenied, Unauthenticated, Unavailable (also
// Aborted), ResourceExhausted, DeadlineExceeded, Canceled, Unsupported
// (Unimplemented) and Internal (also DataLoss).
//
// # Admin
//
// mq.OpenAdmin("gcppubsub://projects/P") creates and deletes topics and
// subscriptions (names are IDs in P or full names). CreateSubscription maps
// SubscriptionConfig: Lease to the ack deadline (10 s if zero), MaxAttempts
// and DeadLetterTopic to a dead-letter policy (as above; the dead-letter
// topic defaults to SUB-dlq and is created, with a subscription of the same
// ID, if missing: Pub/Sub drops messages of a topic without
// subscriptions), Ordered to message ordering, Retention to
// retain_acked_messages with at least Pub/Sub's 10 minutes. A dead-letter
// topic without MaxAttempts and a TopicConfig.DedupWindow are refused. On
// the real service the Pub/Sub service account
// (service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com) needs the
// publisher role on the dead-letter topic and the subscriber role on the
// subscription for the policy to forward messages.
//
// # Faults
//
// A cut: gRPC calls fail Unavailable and the client dials again; a
// publish the client retries backs off to at most 2 s (the client's
// default multiplies its pause by 4 up to a minute), and mq waits the
// outage out for sends and receives whose context outlasts it. Ack
// deadlines are the server's and keep running, so a received message whose
// deadline ends during the fault gains one delivery attempt. Pub/Sub does
// not restart; pstest and the emulator lose their state when they do, so
// the tests cut the connection through a fault proxy instead.
//
// # Testing: pstest and the gcloud emulator
//
// The conformance suite runs twice: on pstest (cloud.google.com/go's
// in-process fake, in every go test, with a 1 s minimum ack deadline and a
// fault proxy for the restart and cut cases) and, in CI, on Google's
// Pub/Sub emulator (gcloud beta emulators pubsub start, a Java server,
// with a 2 s lease; TestConformanceExternal). Where the two differ the
// test trusts the emulator: Google ships it as the stand-in for the
// service and it implements the service's delivery machinery, while
// pstest is a fake written for the client library's own tests. pstest
// stays because it needs no JVM and runs in seconds. Rule by rule:
//
//   - Seek: pstest crashes on a Seek that replays messages (nil pointer in
//     its maintainMessages), so its harness skips the replay case; the
//     emulator runs it and is what proves seeking back.
//   - Dead-letter policy: both forward after max_delivery_attempts and
//     both pass the dead-letter cases; the emulator's delivery attempt
//     counting is the one trusted, as it is the service's.
//   - Retry policy: the driver sets none (a nack's delay is a
//     ModifyAckDeadline, native on both), so the two cannot differ here.
//   - Ordering: both pass the ordering cases; pstest pushes about one
//     message per 10 ms per stream, so its ordering runs are slow but not
//     different.
//   - Shutdown hand-back: the emulator fails the case where Close hands
//     unsettled messages back at once (they return only after their
//     deadline), pstest passes it. The emulator is trusted: the likely
//     cause is a Pull that Close cancels after the emulator gave it
//     messages, which then stay leased to nobody, as the service may do
//     too. Its harness skips the case, with that reason, until Close
//     hands back what its last Pull calls got.
//   - A Consumer through a cut and a restart: in about half the runs on
//     the emulator, the message nacked around the faults is not delivered
//     again within the case's time; pstest always passes. Not yet known
//     to be the driver's or the emulator's; the emulator harness skips the
//     case, with that reason, until it is.
//
// # As
//
// With pubsub for cloud.google.com/go/pubsub/v2, vkit for its apiv1
// package and pubsubpb for apiv1/pubsubpb:
//
//   - Producer.As takes **pubsub.Publisher and **pubsub.Client.
//   - Subscription.As takes **pubsub.Client and
//     **vkit.SubscriptionAdminClient.
//   - Admin.As takes **pubsub.Client.
//   - Delivery.As takes **pubsubpb.ReceivedMessage.
//   - ErrorAs takes **status.Status (google.golang.org/grpc/status),
//     **apierror.APIError (github.com/googleapis/gax-go/v2/apierror) and
//     any other target errors.As takes, such as
//     *pubsub.ErrPublishingPaused; a target it cannot take reports false.
package gcppubsub
