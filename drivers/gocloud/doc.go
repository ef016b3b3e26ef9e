// Package gocloud runs the Go Cloud Development Kit's pubsub drivers
// (gocloud.dev/pubsub) behind portmq's API: a portmq URL
// gocloud+SCHEME://... opens the Go CDK's driver for SCHEME through the Go
// CDK's URL mux, and mq adds what the Go CDK lacks (lease, nack delay,
// delayed delivery, dead-lettering) on top. It is built and tested against
// gocloud.dev v0.47.0 (and gocloud.dev/pubsub/rabbitpubsub v0.47.0).
//
// The other direction, portmq's backends as a Go CDK driver, is package
// [github.com/portmq/portmq/drivers/gocloud/portmqpubsub].
//
// Import this package for its side effect:
//
//	import _ "github.com/portmq/portmq/drivers/gocloud"
//
// It registers gocloud+mem, gocloud+rabbit, gocloud+awssqs, gocloud+awssns,
// gocloud+gcppubsub, gocloud+gcppubsubv2, gocloud+azuresb, gocloud+kafka
// and gocloud+nats on mq's default mux ([Register] adds others). mem and
// rabbit work with this package alone (it imports mempubsub and
// rabbitpubsub); for the others import the Go CDK driver package too, for
// example _ "gocloud.dev/pubsub/awssnssqs", or the open fails with
// NotFound naming it. [NewOpener] makes an opener over a Go CDK URL mux of
// your own; [NewTopic] and [NewSubscription] wrap Go CDK objects you
// opened yourself (wrap the result with mq.NewProducer or
// mq.NewSubscription).
//
// # URLs
//
// A producer URL is the Go CDK topic URL with the prefix:
//
//	gocloud+mem://orders            → mem://orders (a mempubsub topic)
//	gocloud+rabbit://orders         → rabbit://orders (an AMQP exchange)
//
// A subscription URL is the Go CDK subscription URL with the prefix and
// portmq's parameters, which the driver removes before the Go CDK sees it:
//
//	gocloud+rabbit://payments?retry_topic=rabbit://orders&max_attempts=5&dead_letter=rabbit://orders.dlq&visibility=30s
//	gocloud+mem://orders?name=payments&max_attempts=5&dead_letter=mem://orders.dlq&ackdeadline=2m
//
// portmq's subscription parameters:
//
//   - name: the subscription's name, in dead-letter metadata and in retried
//     copies. Default: the Go CDK URL's host and path (the queue, for
//     rabbit). For mem it also tells subscriptions of one topic apart.
//   - visibility: the lease mq keeps per delivery. Default 30s. Keep it
//     below the backend's own ack deadline (mempubsub's ackdeadline,
//     default 1m; RabbitMQ's consumer_timeout, default 30m).
//   - retry_topic: a Go CDK topic URL that reaches this subscription; a
//     nacked delivery is republished there with its attempt number (see
//     Semantics). Default: none, except for mem, whose subscription URL
//     names its topic, which is the default. For rabbit, the exchange the
//     queue is bound to.
//   - max_attempts: dead-letter a message after that many deliveries.
//     Default 0 (never). Above 1 it needs retry_topic (the Go CDK does not
//     count deliveries), and it needs dead_letter.
//   - dead_letter: a Go CDK topic URL dead letters are sent to. Default
//     none (DeadLetter fails with Unsupported).
//
// Topic-URL values may carry the gocloud+ prefix or not. Every other
// query parameter is the Go CDK's: for mem (ackdeadline on subscriptions;
// none on topics) and rabbit (key_name on topics, prefetch_count on
// subscriptions) the driver knows them and rejects others with
// InvalidArgument; for the other schemes it passes them all through and
// the Go CDK rejects what it does not know. URLs with user info are
// rejected: no Go CDK pubsub driver takes credentials from its URL; each
// reads them from its environment (RABBIT_SERVER_URL, the AWS and Google
// default credentials, ...). Errors never contain a URL's password.
//
// # Semantics
//
// The Go CDK exposes a message body, string metadata, Ack, and Nack where
// its driver can (Message.Nackable, the driver's CanNack). Capabilities:
//
//	rule         support  how
//	lease        none     mq keeps it in the process and nacks at its end; Extend moves mq's deadline only
//	nack-delay   none     mq holds the delivery, then nacks
//	attempts     driver   with retry_topic: counted by republishing; none without
//	dead-letter  none     mq republishes to dead_letter, then acks
//	dedup        none     only consumer-side (mq.WithIdempotency)
//	ordering     none     ordered subscriptions are unavailable
//	delay        none     mq carries the due time in an attribute and holds the message on receipt
//	seek         none     Seek fails with Unsupported
//
// The driver carries the rest of a portmq message in metadata entries of
// its own (AttrID, AttrPublishedAt, AttrKey, AttrDedupID, AttrDelivered,
// AttrRetryFor; up to 4 on a sent message, 6 on a retried copy) and
// removes them on receipt: Key, DedupID, the ID that Send returns (the Go
// CDK returns none) and PublishedAt (the sender's clock) survive the round
// trip. A message not sent through portmq gets its Go CDK LoggableID as ID.
// Bodies are copied on send. MaxBodySize is the service's documented
// default for the known schemes (rabbit 16 MiB, awssqs/awssns/azuresb
// 256 KiB, gcppubsub 10 MB, kafka/nats 1 MiB; mem unlimited); services
// with an attribute limit (SQS: 10) leave fewer for the application.
//
// Attempt counting (with retry_topic): Nack publishes a copy of the
// delivery to the retry topic, with AttrDelivered set to the deliveries so
// far and AttrRetryFor to the subscription's name, and then acks the
// original (package mq/driver/redeliver: a crash in between leaves both;
// never neither). Other subscriptions of the
// retry topic ack and drop copies that are not for them, so a fan-out
// topic works as retry topic at the cost of that traffic (Go CDK
// applications reading the topic directly see the copies). mq nacks on
// every failure it sees, so these count: Nack, a lease that mq saw end,
// and deliveries handed back by Subscription.Shutdown (including messages
// fetched ahead). These do not count: a consumer process that dies (the
// backend redelivers the original, with the attempt it had), and a
// redelivery by the backend's own ack deadline when it is shorter than the
// lease. Without retry_topic, Nack is the Go CDK's, uncounted; where the
// Go CDK driver cannot nack it fails with Unsupported and the message comes
// back only after the backend's own ack deadline, if it has one.
//
// Acks are the Go CDK's: sent in the background, so Ack returns before
// the backend has it; a failed ack surfaces as the error of a later
// Receive, and the message is delivered again. A Go CDK subscription whose
// ReceiveBatch or SendAcks failed with a non-retryable error stays failed;
// the driver then reopens it on the next Receive (not for mem, and not for
// objects given to NewSubscription). A topic whose connection broke is
// reopened on the next Send; such errors are Unavailable. Error codes map
// one to one from gcerrors (Unimplemented becomes Unsupported); AMQP
// errors of a closed connection or channel are Unavailable.
//
// Per scheme:
//
//   - mem: mempubsub keeps a topic per name for the process, and a
//     subscription exists only inside its handle. The driver never shuts
//     mem topics down and keeps one subscription per topic and name for the
//     process, shared by every handle that opens it: so a subscription URL
//     names a queue that fans out, whose handles compete, and that keeps
//     the messages of a closed handle. A subscription receives the messages
//     sent after it was first opened. mempubsub polls every 250 ms when
//     idle.
//   - rabbit (on the Go CDK's default mux): the Go CDK's rabbit driver
//     never closes its AMQP channels (its Close methods do nothing), so
//     what it fetched ahead would stay unacknowledged on the default
//     connection for the life of the process. The driver dials a connection
//     per handle from RABBIT_SERVER_URL (as the Go CDK's default opener
//     does) and closes it with the handle, which hands those deliveries
//     back. RabbitMQ pushes messages to every consumer of a queue, so a
//     subscription handle with nothing running and nothing unsettled parks
//     after 100 ms: it shuts its Go CDK subscription down and closes its
//     connection, and reopens on the next Receive. Messages are sent
//     persistent (delivery mode 2, through the Go CDK's BeforeSend escape
//     hatch) with the portmq ID as AMQP message-id; exchanges and queues
//     must exist (the Go CDK declares nothing) and should be durable.
//   - Go CDK drivers that cannot nack (kafkapubsub; azuresb in
//     receive-and-delete mode): give the subscription a retry_topic.
//   - awssnssqs and gcppubsub with NackLazy nack by doing nothing; the
//     message comes back after the service's ack deadline.
//
// A Go CDK quirk the driver cannot avoid: Go CDK v0.47.0 leaks a goroutine
// when a background fetch of a pubsub.Subscription returns messages that
// no later Receive takes (it blocks on an unbuffered channel), which can
// happen when a subscription is shut down while receiving.
//
// # Faults
//
// rabbit: a Go CDK subscription or topic whose connection broke is opened
// again on the next call; connection loss is Unavailable; held messages
// come back with one more attempt, as on the rabbitmq driver. mem: nothing
// to cut. mq waits an outage out for sends and receives whose context
// outlasts it. What the Go CDK driver of another backend does is that
// driver's: its errors map through gcerrors.Unavailable.
//
// # As
//
// Producer.As and Subscription.As accept **pubsub.Topic and
// **pubsub.Subscription (the Go CDK objects) and pass other types to the Go
// CDK's As (for rabbit: **amqp.Connection). Delivery.As accepts
// **pubsub.Message and passes other types to the Go CDK message's As (for
// rabbit: *amqp.Delivery). ErrorAs reaches the Go CDK driver's errors
// through the Go CDK's ErrorAs (for rabbit: **amqp.Error and
// *rabbitpubsub.MultiError), and any error type in the chain.
package gocloud
