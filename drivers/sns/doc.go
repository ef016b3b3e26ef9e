// Package sns is portmq's driver for Amazon SNS topics with SQS queue
// subscriptions, on the AWS SDK for Go v2. A producer publishes to a
// topic; a subscription is an SQS queue subscribed to the topic with raw
// message delivery, received through the sqs driver
// (github.com/portmq/portmq/drivers/sqs), so every subscription of a topic
// gets every message (fan-out) and each queue behaves as that driver says.
//
// Import it for its side effect to enable sns:// URLs on mq's default mux:
//
//	import _ "github.com/portmq/portmq/drivers/sns"
//
// or open handles on SDK clients of your own with [OpenTopic],
// [OpenSubscription] and [NewAdmin].
//
// # URLs
//
// A producer URL names a topic, a subscription URL a topic and the queue
// subscribed to it:
//
//	sns://TOPIC?region=eu-west-1&endpoint=http://127.0.0.1:5000&profile=dev
//	sns://TOPIC/QUEUE?region=eu-west-1&wait=20s&visibility=30s&owner=123456789012
//
// Every URL takes region, endpoint and profile, as sqs:// URLs do (the
// endpoint serves both SNS and SQS). Subscription URLs also take owner,
// wait and visibility, which apply to the queue as in sqs:// URLs. An
// admin URL is sns://?region=...&endpoint=...&profile=... (a host is
// ignored). Credentials come from the SDK's default chain; a URL with user
// info is refused. Unknown, repeated or invalid parameters are errors
// wrapping driver.ErrInvalidURL.
//
// A topic is found by name among the account's topics (ListTopics) when a
// handle opens; a subscription checks that its queue is subscribed to the
// topic with raw message delivery (skipping what the caller may not list).
//
// # Semantics
//
// Producers publish with PublishBatch, in batches of up to 10 and 256 KiB,
// reporting each message's error when a batch partly fails. Messages use
// the wire format of package awsmq, the same as the sqs driver's: binary
// bodies, up to 32 attributes of any UTF-8 (at most 10 native message
// attributes, which is also what SNS delivers to SQS with raw delivery;
// the rest packed), Key and DedupID. SNS assigns message IDs that
// subscribers never see, so the driver gives each message an ID of its
// own (a random UUID) and carries it in the portmq-id attribute: Send
// returns it and deliveries have it. The size of a message as SNS counts
// it is checked against SNS's 256 KiB before publishing; MaxBodySize is
// the largest body of any bytes that fits (196551 bytes).
//
// On a FIFO topic (.fifo) Key is the MessageGroupId and DedupID the
// MessageDeduplicationId: SNS and the FIFO queues subscribed to it drop a
// repeated DedupID within 5 minutes and keep each key's messages in order.
//
// Subscriptions are SQS queues, so lease, Extend, Nack with delay (up to
// 12 h, Capabilities.MaxNackDelay), Attempt, dead-lettering (redrive
// policy and DeadLetter) are native as described by the sqs driver. Dead
// letters the driver sends (DeadLetter, Nack at max attempts) name
// TOPIC/QUEUE as portmq-source; those SQS moves by its redrive policy name
// the queue. SNS cannot delay a message: Capabilities.Delay is none and mq
// emulates Delay (the consumer holds the delivery until it is due, waking
// a Receive waiting in a long poll). Not possible: Seek.
//
// # Faults
//
// Publishing is an SNS HTTP call and each subscription an SQS queue, so a
// cut does what it does to the sqs driver: calls fail Unavailable after
// the SDK's retries, mq waits the outage out, and a received message whose
// visibility timeout ends during the fault gains one attempt.
//
// # As
//
// Producer As accepts a **sns.Client of the AWS SDK
// (github.com/aws/aws-sdk-go-v2/service/sns); Subscription As a
// **sqs.Client (service/sqs); Admin As either. Delivery.As is the sqs
// driver's (*types.Message of service/sqs/types). ErrorAs reaches the
// SDK's errors (smithy.APIError, the types of sns/types and sqs/types)
// and *awsmq.BatchEntryError.
package sns
