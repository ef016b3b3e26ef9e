// Package wmportmq runs Watermill (github.com/ThreeDotsLabs/watermill) on
// portmq: a Watermill message.Publisher and message.Subscriber over
// portmq URLs, so that a Watermill application — its Router, middlewares
// and handlers unchanged — gets portmq's backends and semantics: a lease
// kept (and extended) while a handler runs, attempt counts, backoff on
// Nack, and native dead-lettering, on every portmq backend. It is built
// and tested against Watermill v1.5.1 and passes Watermill's own Pub/Sub
// test suite (pubsub/tests.TestPubSub) over memdriver, RabbitMQ, Redis,
// Kafka (on kfake), and Watermill's own GoChannel behind package
// drivers/watermill.
//
// The other direction, Watermill's Pub/Subs behind portmq's API, is
// package [github.com/portmq/portmq/drivers/watermill].
//
//	import (
//		"github.com/portmq/portmq/drivers/watermill/wmportmq"
//		_ "github.com/portmq/portmq/memdriver"
//	)
//
//	pub, err := wmportmq.NewPublisher("mem://{topic}", nil)
//	sub, err := wmportmq.NewSubscriber("mem://{topic}/{group}?max_attempts=5", &wmportmq.SubscriberConfig{
//		ConsumerGroup: "billing",
//		Backoff:       mq.Backoff{Min: time.Second, Max: time.Minute},
//	})
//
// # URLs
//
// Watermill names a topic per call (Publish(topic, ...), Subscribe(ctx,
// topic)); portmq names it in a URL. So NewPublisher and NewSubscriber
// take a URL template, a portmq URL (any scheme whose driver is imported;
// see its package doc for the parameters) in which {topic} stands for the
// Watermill topic and, for subscribers, {group} for the consumer group
// (SubscriberConfig.ConsumerGroup, default "watermill"). Both are
// percent-encoded, so they fit in a path segment or a query value:
//
//	mem://{topic}                                   publisher over memdriver
//	mem://{topic}/{group}?visibility=1m             subscriber: subscription GROUP of topic TOPIC
//	amqp://guest:guest@localhost:5672/?topic={topic}
//	amqp://guest:guest@localhost:5672/?topic={topic}&subscription={topic}.{group}&max_attempts=5
//
// A template without {topic}, or with an unknown placeholder, fails
// NewPublisher or NewSubscriber with InvalidArgument; a URL the driver
// refuses fails the first Publish or Subscribe of its topic (errors never
// contain the URL's password). One consumer group is one portmq
// subscription of one topic: every group gets every message, subscribers
// of a group compete. Where subscription names are global to the backend
// (RabbitMQ's queues, Kafka's groups), name it {topic}.{group}: RabbitMQ
// refuses one name on two topics rather than merge them, and a Kafka group
// on many topics rebalances whenever any of them gains a member.
//
// Backends where a topic must exist before it is used (Kafka, for example)
// need PublisherConfig.Provision and SubscriberConfig.Provision, called
// before a topic's first open, for example with an mq.Admin's CreateTopic
// (AlreadyExists counts as success). On Redis the subscription must exist
// too: SubscriberConfig.Provision creates the topic and then the group
// with CreateSubscription.
//
// # Semantics
//
// Publishing: Publish sends its messages in one mq.Producer.SendBatch
// (one Producer per topic, opened on first use) and returns once the
// backend has every one, as portmq's Send promises; portmq waits out a
// connection loss within PublisherConfig.SendTimeout. The payload is the
// body; the UUID travels in the attribute [UUIDAttribute]
// ("_watermill_message_uuid", as watermill-amqp's header) and every
// metadata entry as an attribute, so portmq's limits apply: at most
// [MaxMetadata] (31) entries, keys of 1 to 128 bytes not starting with
// "portmq-", values up to 4096 bytes, the UUID up to 4096 bytes. A message
// beyond them fails the whole Publish with InvalidArgument before
// anything is sent; nothing is dropped silently. PublisherConfig.KeyMetadata
// makes a metadata entry the portmq Key (ordering key). The message's Go
// context is not carried.
//
// Subscribing: each Subscribe call opens the subscription of its topic and
// group and runs an mq.Consumer over it, which hands each delivery to the
// channel as a Watermill message (UUID from the attribute, or the portmq ID
// for a message not sent through Watermill; the other attributes as
// metadata, including portmq's dead-letter metadata on dead letters) and
// then waits for it to be settled:
//
//   - msg.Ack() acks the delivery.
//   - msg.Nack() nacks it with the delay SubscriberConfig.Backoff gives for
//     its attempt (zero: at once, Watermill's habit), or dead-letters it
//     when its attempt reached the subscription's max_attempts (or
//     SubscriberConfig.MaxAttempts): the message goes to the
//     subscription's dead-letter destination with the attributes
//     portmq-dead-letter-reason, portmq-attempts and portmq-source. This
//     replaces Watermill's PoisonQueue middleware (and its Retry
//     middleware: set Backoff), and unlike them it holds across processes
//     and restarts wherever the backend counts attempts.
//   - While a message is out, its lease is extended (up to
//     SubscriberConfig.MaxExtension), so a slow handler does not see it
//     delivered twice.
//   - The message's context carries the *mq.Delivery ([Delivery]: Attempt,
//     Extend, DeadLetter, Key, PublishedAt) and is canceled when the
//     message is settled, when Subscribe's context ends and when the
//     Subscriber closes.
//   - SubscriberConfig.Concurrency messages are out at once per Subscribe
//     (default 1: the next comes after the previous was settled).
//   - SubscriberConfig.Idempotency gives the Consumer an idempotency
//     store: the handler runs to success at most once per DedupID (else
//     portmq ID).
//
// Subscribe's channel closes when its context ends or the Subscriber
// closes: Close hands out nothing more, waits up to DrainTimeout (default
// 0) for the messages out to be settled, hands the rest back to the
// backend at once (a later Ack or Nack of them does nothing: the message
// comes again, at least once) and returns when every channel is closed.
// SubscribeInitialize opens and closes the subscription, which creates it
// on backends that create subscriptions on open (mem, amqp), so messages
// published next are kept for it (Watermill's test suite calls it before
// publishing; call it at startup where the first messages may come before
// the first Subscribe).
//
// Watermill's test suite features, as this package meets them (see the
// tests for why each is set so): consumer groups yes; exactly-once no
// (at-least-once); guaranteed order no (portmq orders per Key on ordered
// subscriptions only); persistent yes (on backends that keep messages:
// memdriver for the process, RabbitMQ durably); new subscribers receive
// old messages no (a subscription gets what is sent after it exists).
//
// # As
//
// [Delivery] returns a received message's *mq.Delivery, and through its
// As the driver's native message. Publisher and Subscriber have no As:
// open the portmq handles with mq directly to reach native clients.
package wmportmq
