package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// admin provisions topics (fanout exchanges) and subscriptions (quorum
// queues) for development and tests.
type admin struct {
	native
}

var _ driver.Admin = (*admin)(nil)

// NewAdmin returns an admin over conn, which stays the caller's. Wrap the
// result with mq.NewAdmin.
func NewAdmin(conn *amqp.Connection) (driver.Admin, error) {
	if conn == nil {
		return nil, optionError("NewAdmin: nil connection")
	}
	return newAdmin(newLink(conn, nil)), nil
}

func newAdmin(l *link) *admin { return &admin{native{l}} }

// exists reports whether the exchange (queue false) or queue exists.
func (a *admin) exists(ctx context.Context, name string, queue bool) (bool, error) {
	err := a.l.withChannel(ctx, func(ch *amqp.Channel) error {
		if queue {
			_, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
			return err
		}
		return ch.ExchangeDeclarePassive(name, exchangeKind, true, false, false, false, nil)
	})
	if err == nil {
		return true, nil
	}
	if ae, ok := errors.AsType[*amqp.Error](err); ok && ae.Code == amqp.NotFound {
		return false, nil
	}
	return false, err
}

func exists(what, name string) error {
	return &driver.Error{Code: driver.AlreadyExists, Msg: "rabbitmq: " + what + " " + strconv.Quote(name) + " already exists"}
}

func notFound(what, name string) error {
	return &driver.Error{Code: driver.NotFound, Msg: "rabbitmq: " + what + " " + strconv.Quote(name) + " does not exist"}
}

// CreateTopic declares a durable fanout exchange.
func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if cfg.DedupWindow > 0 {
		return &driver.Error{Code: driver.Unsupported, Msg: "rabbitmq: producer-side deduplication is not supported (use a consumer-side idempotency store)", Err: errors.ErrUnsupported}
	}
	ok, err := a.exists(ctx, name, false)
	switch {
	case err != nil:
		return err
	case ok:
		return exists("topic", name)
	}
	return a.l.withChannel(ctx, func(ch *amqp.Channel) error {
		return declareError("topic "+strconv.Quote(name), declareTopic(ch, name))
	})
}

// CreateSubscription declares a quorum queue bound to the topic, with its
// dead-letter topic (and the default dead-letter queue). The lease is not
// stored in the broker: give it in the subscription URL (visibility).
func (a *admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if cfg.Retention > 0 {
		return &driver.Error{Code: driver.Unsupported, Msg: "rabbitmq: quorum queues do not retain acked messages (no Seek)", Err: errors.ErrUnsupported}
	}
	switch ok, err := a.exists(ctx, topic, false); {
	case err != nil:
		return err
	case !ok:
		return notFound("topic", topic)
	}
	switch ok, err := a.exists(ctx, name, true); {
	case err != nil:
		return err
	case ok:
		// Name the topic it belongs to if it is another one.
		if err := a.l.withChannel(ctx, func(ch *amqp.Channel) error { return claimQueue(ch, name, topic) }); driver.CodeOf(err) == driver.FailedPrecondition {
			return err
		}
		return exists("subscription", name)
	}
	o := SubscriptionOptions{MaxAttempts: cfg.MaxAttempts, DeadLetterTopic: cfg.DeadLetterTopic, Ordered: cfg.Ordered}
	o, err := o.withDefaults(name)
	if err != nil {
		return err
	}
	spec := queueSpec{name: name, maxAttempts: o.MaxAttempts, deadLetter: o.DeadLetterTopic, ordered: o.Ordered}
	conn, err := a.l.get(ctx)
	if err != nil {
		return err
	}
	return a.l.withChannel(ctx, func(ch *amqp.Channel) error {
		return declareError("subscription "+strconv.Quote(name), declareQueue(ch, brokerMajor(conn), topic, &spec))
	})
}

// DeleteTopic deletes the exchange and its delay queues.
func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	switch ok, err := a.exists(ctx, name, false); {
	case err != nil:
		return err
	case !ok:
		return notFound("topic", name)
	}
	if err := a.l.withChannel(ctx, func(ch *amqp.Channel) error { return ch.ExchangeDelete(name, false, false) }); err != nil {
		return err
	}
	return a.deleteHolding(ctx, name, delayQueue)
}

// DeleteSubscription deletes the queue, its claim for its topic and its
// wait queues. Its
// dead-letter topic and queue stay (they may hold dead letters); delete
// them as a topic and a subscription of their own.
func (a *admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	// The claim goes first, even if the queue is gone: the name is free
	// for any topic again.
	if err := a.l.withChannel(ctx, func(ch *amqp.Channel) error {
		return ch.ExchangeDelete(claimExchange(name), false, false)
	}); err != nil {
		if ae, ok := errors.AsType[*amqp.Error](err); !ok || ae.Code != amqp.NotFound {
			return err
		}
	}
	switch ok, err := a.exists(ctx, name, true); {
	case err != nil:
		return err
	case !ok:
		return notFound("subscription", name)
	}
	if err := a.l.withChannel(ctx, func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(name, false, false, false)
		return err
	}); err != nil {
		return err
	}
	return a.deleteHolding(ctx, name, waitQueue)
}

// deleteHolding deletes every wait or delay queue of base that may exist
// (RabbitMQ 3.x ignores deleting a missing queue; other versions answer
// NOT_FOUND, which closes the channel).
func (a *admin) deleteHolding(ctx context.Context, base string, name func(string, time.Duration) string) error {
	var ch *amqp.Channel
	defer func() {
		if ch != nil {
			_ = ch.Close()
		}
	}()
	for _, b := range allBuckets() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ch == nil || ch.IsClosed() {
			conn, err := a.l.get(ctx)
			if err != nil {
				return err
			}
			if ch, err = conn.Channel(); err != nil {
				return err
			}
		}
		_, err := ch.QueueDelete(name(base, b), false, false, false)
		if ae, ok := errors.AsType[*amqp.Error](err); ok && ae.Code == amqp.NotFound {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// As accepts **amqp.Connection.
func (a *admin) As(i any) bool { return a.as(i, func() *amqp.Channel { return nil }) }

func (a *admin) Close() error { a.l.close(); return nil }
