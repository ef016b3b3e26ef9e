// Package sqs is portmq's driver for Amazon SQS, on the AWS SDK for Go v2.
// A queue is both what a producer sends to and the one subscription that
// receives from it; for fan-out to several queues use package
// github.com/portmq/portmq/drivers/sns.
//
// Import it for its side effect to enable sqs:// URLs on mq's default mux:
//
//	import _ "github.com/portmq/portmq/drivers/sqs"
//
// or open handles on an SDK client of your own with [OpenTopic],
// [OpenSubscription] and [NewAdmin], and wrap them with mq.NewProducer,
// mq.NewSubscription and mq.NewAdmin.
//
// # URLs
//
// A producer or subscription URL names a queue by its name:
//
//	sqs://QUEUE?region=eu-west-1&endpoint=http://127.0.0.1:5000&profile=dev&owner=123456789012
//	sqs://QUEUE?region=eu-west-1&wait=20s&visibility=30s
//
// Every URL takes:
//
//   - region: the AWS region. Default: the SDK's (AWS_REGION, the
//     profile's region).
//   - endpoint: the base URL of an SQS-compatible endpoint (moto,
//     localstack, a VPC endpoint), http or https, without user info.
//     Default: the SDK's endpoint for the region.
//   - profile: a profile of the shared configuration files. Default: the
//     SDK's (AWS_PROFILE, then "default").
//
// Producer and subscription URLs also take:
//
//   - owner: the 12-digit ID of the AWS account that owns the queue, for
//     another account's queue. Default: the caller's account.
//
// Subscription URLs also take:
//
//   - wait: how long one receive request waits for messages (long
//     polling), 1s to 20s, rounded up to whole seconds. Default 20s. A
//     Receive returns as soon as its context ends; see Semantics for what
//     happens to the request it leaves behind.
//   - visibility: the lease of each delivery, 1s to 12h, rounded up to
//     whole seconds. Default: the queue's VisibilityTimeout (30s if 0).
//
// An admin URL is sqs://?region=...&endpoint=...&profile=... (a host is
// ignored).
//
// Credentials come from the SDK's default chain (environment, shared
// files, IAM role); a URL with user info is refused, and no error holds a
// credential. Unknown, repeated or invalid parameters are errors wrapping
// driver.ErrInvalidURL. [URLOpener] with a Config opens URLs with a
// configuration of your own.
//
// # Semantics
//
// Native (SQS does it): the lease is the visibility timeout; Extend and
// Nack(delay) are ChangeMessageVisibility (batched by 10), Nack(0) makes
// the message visible at once; Attempt is ApproximateReceiveCount;
// dead-lettering after the subscription's max attempts is the queue's
// RedrivePolicy (Info.MaxAttempts is its maxReceiveCount); Delay is
// DelaySeconds; on FIFO queues Key is the MessageGroupId, DedupID the
// MessageDeduplicationId (SQS drops a repeated one within 5 minutes) and
// the subscription is ordered.
//
// Done by the driver:
//
//   - Sends, acks (DeleteMessageBatch), nacks and extends go in batches of
//     up to 10 (sends also up to 1 MiB), and a batch that partly fails
//     reports each message's error (a *driver.BatchError).
//   - Messages carry a binary body, up to 32 attributes of any UTF-8,
//     Key, DedupID and ID in the wire format of package awsmq: text
//     bodies and up to 10 attributes whose names and values SQS accepts
//     travel natively (readable by other consumers); the rest is encoded
//     into portmq attributes. Messages of other producers are read as
//     they are (Binary attributes base64 encoded).
//   - A message's ID is SQS's MessageId, except on FIFO queues, where it
//     is portmq's own, carried in the portmq-id attribute: there a send
//     the SDK retried is dropped by deduplication, and the MessageId the
//     retry returns need not be the one delivered.
//   - The size of a message as SQS counts it (body, base64 encoded if it
//     is not text, plus attribute names, types and values) is checked
//     against the queue's MaximumMessageSize, read when the handle opens,
//     before sending: an over-size message fails the whole call with code
//     InvalidArgument and nothing is sent. Capabilities.MaxBodySize is the
//     largest body of any bytes that fits: 3/4 of MaximumMessageSize less
//     a few bytes (786414 bytes for 1 MiB, 196590 for 256 KiB).
//   - Nack of a delivery at the queue's maxReceiveCount dead-letters it at
//     once (SQS would move it only on a later receive). DeadLetter(reason)
//     sends the message to the redrive policy's dead-letter queue with its
//     body, attributes, Key, DedupID and the attributes
//     portmq-dead-letter-reason, portmq-attempts and portmq-source, then
//     deletes it; a message that cannot be sent there is handed back, and
//     a failed delete leaves a duplicate, never a loss. Messages SQS
//     itself moved (after lease ends or crashes) get the same attributes
//     when read from the dead-letter queue: reason "max attempts (N)
//     reached (SQS redrive policy)", attempts N (the source's
//     maxReceiveCount) and the source queue, from the message's
//     DeadLetterQueueSourceArn or, where an emulator lacks it, from the
//     queues whose redrive policy targeted the queue when the handle
//     opened (ListDeadLetterSourceQueues).
//   - SQS accepts a stale receipt handle for delete and change-visibility
//     (and may apply it to a later delivery of the message), so Ack, Nack,
//     Extend and DeadLetter of a delivery whose lease ended by the
//     driver's clock, or that was settled, fail with driver.ErrLeaseExpired
//     without calling SQS. The driver's deadline counts from the receive
//     response, less the time the response may have taken (at most a
//     quarter of the lease and 1 s), and from before an extending request.
//   - A receive whose context ends returns at once, but its request is not
//     canceled: SQS would still take messages for it and hide them for a
//     visibility timeout. The next receive adopts the request, and what it
//     brings is handed out first. Close waits for such requests (at most
//     5 s, then cancels them; lower wait for a faster Close) and hands
//     every unsettled delivery back (visibility 0).
//
// Emulated by mq: Delay longer than 15 minutes (Capabilities.MaxDelay),
// and any Delay on FIFO queues, which take no per-message delay. The
// message is sent at once with its due time; the consumer holds the
// delivery until then, extending its lease, and a Receive waiting in a
// long poll is woken when it becomes due. Nack delays are native up to
// 12 h (Capabilities.MaxNackDelay: ChangeMessageVisibility), so mq holds
// nothing for them.
//
// Limits: leases, delays and extensions are whole seconds
// (Capabilities.Granularity 1 s, rounded up). A received message stays
// invisible at most 12 h after it was received, so an Extend(lease) or
// Nack(delay) that would end later fails with code FailedPrecondition:
// Nack(delay) needs delay shorter than 12 h less the time since the
// message was received. maxReceiveCount is 1 to 1000.
// On FIFO queues each receive request asks for one message, because SQS
// hands out several messages of one group in a batch and portmq keeps one
// message of a key in flight; concurrent receivers (Consumer concurrency)
// receive several groups at once. Not possible on SQS: Seek (replay), and
// fan-out from one queue to several subscriptions (use sns).
//
// # Faults
//
// A cut: each HTTP call fails after the AWS SDK's own retries, as
// Unavailable (transport errors and 5xx; driver.NetworkCode for the
// network's own), and mq waits the outage out for sends and receives whose
// context outlasts it. Leases are SQS visibility timeouts and keep running
// on the server, so a received message (handed out or buffered) whose
// visibility timeout ends during the fault gains one attempt
// (ApproximateReceiveCount); nothing else does. SQS does not restart; the
// tests cut the connection to moto instead (moto loses its state when it
// restarts).
//
// # As
//
// Producer, Subscription and Admin As accept a **sqs.Client of the AWS
// SDK (github.com/aws/aws-sdk-go-v2/service/sqs). Delivery.As accepts a
// *types.Message (a copy) or **types.Message of
// github.com/aws/aws-sdk-go-v2/service/sqs/types, the message as received.
// ErrorAs reaches the SDK's errors (smithy.APIError, the types in
// sqs/types such as *types.QueueDoesNotExist) and *awsmq.BatchEntryError
// for one failed entry of a batch.
package sqs
