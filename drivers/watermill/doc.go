// Package watermill runs Watermill (github.com/ThreeDotsLabs/watermill)
// Pub/Subs behind portmq's API: a portmq URL watermill+NAME://TOPIC opens
// the Watermill backend registered as NAME, and mq adds what Watermill
// lacks (a lease, delayed nacks, delayed delivery, dead-lettering on
// request) on top. It is built and tested against Watermill v1.5.1.
//
// The other direction, Watermill's API over portmq's backends, is package
// [github.com/portmq/portmq/drivers/watermill/wmportmq].
//
// Import this package for its side effect, which registers
// watermill+gochannel (Watermill's in-process GoChannel), and register the
// Watermill backends you use: Watermill has no URL opener, so a Backend
// gives the constructors of one Pub/Sub.
//
//	import "github.com/portmq/portmq/drivers/watermill"
//
//	func init() {
//		watermill.Register("amqp", watermill.Backend{
//			NewPublisher: func(ctx context.Context, r watermill.Request) (message.Publisher, error) {
//				return amqp.NewPublisher(amqp.NewDurablePubSubConfig(amqpURI, nil), logger)
//			},
//			NewSubscriber: func(ctx context.Context, r watermill.Request) (message.Subscriber, error) {
//				return amqp.NewSubscriber(amqp.NewDurablePubSubConfig(amqpURI, amqp.GenerateQueueNameTopicNameWithSuffix(r.Subscription)), logger)
//			},
//		})
//	}
//
//	p, err := mq.OpenProducer(ctx, "watermill+amqp://orders")
//	s, err := mq.OpenSubscription(ctx, "watermill+amqp://orders?subscription=billing&visibility=1m&dead_letter=orders.dlq")
//
// [NewOpener] makes an opener to register on an mq.URLMux of your own;
// [NewTopic] and [NewSubscription] wrap a Publisher or Subscriber you made
// yourself (wrap the result with mq.NewProducer or mq.NewSubscription).
//
// # URLs
//
// watermill+NAME://TOPIC names the Watermill topic TOPIC (the URL's host
// and path) of backend NAME. portmq's parameters:
//
//   - subscription (subscriptions only, required): the consumer group,
//     passed to Backend.NewSubscriber as Request.Subscription; also the
//     subscription's name in dead-letter metadata.
//   - visibility (subscriptions): the lease mq keeps per delivery.
//     Default 30s.
//   - dead_letter (subscriptions): a topic of the same backend that
//     DeadLetter publishes to. Default none (DeadLetter fails with
//     Unsupported).
//   - max_body: the largest payload accepted, in bytes; default
//     Backend.MaxBodySize (0: no limit).
//
// Every other parameter must be in Backend.Params, and is passed in
// Request.Query; others fail with InvalidArgument. User info in the URL is
// passed as Request.User and never appears in an error.
//
// # Semantics
//
// Watermill gives a payload, string metadata, and Ack and Nack, where Nack
// asks the backend to deliver the message again. Capabilities are all
// none, and mq emulates on top:
//
//	rule         support  how
//	lease        none     mq keeps it in the process; at its end mq nacks, and the Watermill backend redelivers
//	nack-delay   none     mq holds the delivery, then nacks
//	attempts     none     not counted: every delivery reports Attempt 1
//	dead-letter  none     on request only: DeadLetter publishes to dead_letter (with portmq's metadata), then acks
//	dedup        none     only consumer-side (mq.WithIdempotency)
//	ordering     none     ordered subscriptions are unavailable
//	delay        none     mq carries the due time in an attribute and holds the message on receipt
//	seek         none     Seek fails with Unsupported
//
// What cannot hold over Watermill, and why:
//
//   - Redelivery is the Watermill backend's. A lease that ends, a Nack
//     (delayed or not) and a Shutdown with unsettled deliveries all become
//     msg.Nack(), and the message comes again only if the backend
//     redelivers on Nack (GoChannel and AMQP do; a subscriber that drops a
//     nacked message, or acks before handing it out, loses it). A backend
//     whose subscriber cannot redeliver on its own breaks rules 2 and 4.
//   - Attempts are not counted (Watermill has no delivery count), so
//     max_attempts is not offered: a message that always fails is retried
//     forever. Dead-letter it from the handler (Delivery.DeadLetter, or
//     mq.Permanent in a Consumer).
//   - A held delivery (a delayed nack, a delayed message not yet due)
//     stays unsettled in the Watermill backend; backends that hand out one
//     message at a time per Subscribe (most do, GoChannel does not) hand
//     out nothing else meanwhile.
//   - Publish has no context: SendBatch returns when Watermill's Publish
//     does (the messages' context is SendBatch's, which some publishers
//     honour), and a failed Publish of several messages may have sent
//     some.
//
// The ID is the Watermill message's UUID (a new one per sent message);
// attributes are metadata entries; Key, DedupID and PublishedAt (the
// sender's clock) travel in the metadata entries [AttrKey],
// [AttrDedupID] and [AttrPublishedAt], which are removed on receipt.
// Payloads are copied on send. Errors are classified by
// Backend.ErrorCode, then as context errors, then network errors
// (Unavailable).
//
// # Faults
//
// A cut or a restart of the broker behind a Watermill backend is seen
// through that backend: a Subscribe channel that the backend closes (its
// connection ended) makes the receive fail with Unavailable, which mq
// waits out and retries, and the driver subscribes again on the next
// receive; a Publish that fails with a network error is Unavailable too,
// and mq sends again until the context ends. What mq keeps in the process
// (the lease of a held delivery, an emulated delay) keeps running through
// the fault; a delivery whose lease ends meanwhile is nacked back to the
// backend, one more attempt for the application. A restart of this
// process loses what mq held and leaves redelivery to the backend.
//
// watermill+gochannel: one GoChannel for the process ([GoChannel]). A
// GoChannel has no consumer groups and keeps nothing nobody subscribes
// to, so the backend makes each subscription (topic and name) one
// Subscribe on the GoChannel for the rest of the process, read by every
// handle of the subscription: handles compete, every subscription gets
// every message sent after it was first opened, and messages wait in the
// GoChannel while no handle reads. A message sent to a topic without any
// subscription is dropped, as GoChannel does.
//
// # As
//
// Producer.As and Subscription.As accept *message.Publisher and
// *message.Subscriber (or a pointer to the concrete type, such as
// **gochannel.GoChannel for NewTopic's publisher). Delivery.As accepts
// **message.Message. ErrorAs finds any error type in the chain.
package watermill
