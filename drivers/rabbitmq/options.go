package rabbitmq

import (
	"context"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TopicOptions configure a topic handle made by NewTopic. A nil
// *TopicOptions means every default.
type TopicOptions struct {
	// MaxInFlight bounds the messages published and not yet confirmed by
	// the broker (default DefaultMaxInFlight, 500). SendBatch pipelines
	// up to this many.
	MaxInFlight int
	// MaxBodySize is the largest body accepted (default
	// DefaultMaxBodySize, 16 MiB); negative means no limit below the
	// broker's own max_message_size.
	MaxBodySize int
	// DropUnroutable makes a send to a topic without any bound queue
	// succeed (the broker drops the message). By default such a send
	// fails with code FailedPrecondition, because nothing stored it.
	DropUnroutable bool
	// Redial opens a new connection after the handle's connection is
	// lost. Nil means the handle does not reconnect: once the connection
	// is gone every call fails with code Unavailable. Handles opened from
	// URLs redial the URL.
	Redial func(ctx context.Context) (*amqp.Connection, error)
}

// SubscriptionOptions configure a subscription handle made by
// NewSubscription. A nil *SubscriptionOptions means every default.
type SubscriptionOptions struct {
	// Topic is the exchange the queue is bound to; empty means none (the
	// queue gets messages some other way, for example as a dead-letter
	// queue).
	Topic string
	// Lease is the lease mq keeps for each delivery (default
	// DefaultLease, 30 s). RabbitMQ has no lease of its own; see the
	// package doc.
	Lease time.Duration
	// MaxAttempts dead-letters a message after this many failed
	// deliveries; 0 means never.
	MaxAttempts int
	// DeadLetterTopic is the topic (fanout exchange) dead letters go to.
	// Empty means QUEUE.dlq when MaxAttempts is set, else no dead-letter
	// destination. A topic named QUEUE.dlq also gets a queue of that name.
	DeadLetterTopic string
	// Ordered delivers messages of one Key in order, one in flight per
	// key, through a single active consumer.
	Ordered bool
	// Prefetch is the AMQP prefetch count (default DefaultPrefetch, 256).
	Prefetch int
	// MaxInFlight bounds unconfirmed republishes (delayed nacks, dead
	// letters); default DefaultMaxInFlight.
	MaxInFlight int
	// MaxBodySize is reported in Capabilities (default
	// DefaultMaxBodySize); negative means no limit.
	MaxBodySize int
	// IdleCancel cancels the AMQP consumer when no receive has been
	// waiting for this long, so that messages go to handles that are
	// read (default DefaultIdleCancel, 250 ms); negative means never.
	// Ordered subscriptions never cancel: that would pass the single
	// active consumer on.
	IdleCancel time.Duration
	// Redial: see TopicOptions.Redial.
	Redial func(ctx context.Context) (*amqp.Connection, error)
}

func (o *TopicOptions) withDefaults() (TopicOptions, error) {
	var c TopicOptions
	if o != nil {
		c = *o
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > 65535 {
		return c, optionError("TopicOptions.MaxInFlight must be 0 (default) to 65535")
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	c.MaxBodySize = bodyLimit(c.MaxBodySize)
	return c, nil
}

func (o *SubscriptionOptions) withDefaults(queue string) (SubscriptionOptions, error) {
	var c SubscriptionOptions
	if o != nil {
		c = *o
	}
	switch {
	case c.Lease < 0:
		return c, optionError("SubscriptionOptions.Lease must not be negative")
	case c.MaxAttempts < 0:
		return c, optionError("SubscriptionOptions.MaxAttempts must not be negative")
	case c.Prefetch < 0 || c.Prefetch > 65535:
		return c, optionError("SubscriptionOptions.Prefetch must be 0 (default) to 65535")
	case c.MaxInFlight < 0 || c.MaxInFlight > 65535:
		return c, optionError("SubscriptionOptions.MaxInFlight must be 0 (default) to 65535")
	case len(c.Topic) > 255 || len(c.DeadLetterTopic) > 255:
		return c, optionError("topic names are at most 255 bytes")
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.Prefetch == 0 {
		c.Prefetch = DefaultPrefetch
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.IdleCancel == 0 {
		c.IdleCancel = DefaultIdleCancel
	}
	if c.DeadLetterTopic == "" && c.MaxAttempts > 0 {
		c.DeadLetterTopic = defaultDeadLetter(queue)
	}
	c.MaxBodySize = bodyLimit(c.MaxBodySize)
	return c, nil
}

// bodyLimit turns an Options.MaxBodySize into a Capabilities.MaxBodySize.
func bodyLimit(n int) int {
	switch {
	case n == 0:
		return DefaultMaxBodySize
	case n < 0:
		return 0
	}
	return n
}
