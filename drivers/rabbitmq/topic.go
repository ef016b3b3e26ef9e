package rabbitmq

import (
	"context"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// topic is a driver.Topic on one fanout exchange. Sends are published on
// one confirm-mode channel with a bounded window of unconfirmed messages
// and return once the broker confirmed every one of them.
type topic struct {
	native
	name string
	opts TopicOptions
	caps driver.Capabilities
	pubs pubSlot

	delays holdings // the delay queues this handle declared
}

var _ driver.Topic = (*topic)(nil)

// NewTopic returns a topic handle for the exchange name over conn,
// declaring it (a durable fanout exchange). conn stays the caller's:
// Close closes only the channel the handle opened. Wrap the result with
// mq.NewProducer.
func NewTopic(conn *amqp.Connection, name string, opts *TopicOptions) (driver.Topic, error) {
	var redial func(context.Context) (*amqp.Connection, error)
	if opts != nil {
		redial = opts.Redial
	}
	l, err := callerLink("NewTopic", conn, name, redial)
	if err != nil {
		return nil, err
	}
	return newTopic(l, name, opts)
}

func newTopic(l *link, name string, o *TopicOptions) (*topic, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &topic{
		native: native{l},
		name:   name,
		opts:   opts,
		caps:   capabilities(opts.MaxBodySize),
	}
	err = l.withChannel(context.Background(), func(ch *amqp.Channel) error { return declareTopic(ch, name) })
	if err != nil {
		return nil, declareError("topic "+strconv.Quote(name), err)
	}
	return t, nil
}

// SendBatch implements driver.Topic. Messages with a Delay go to the
// topic's delay queue of their bucket first.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	p, err := t.pubs.get(ctx, t.l, t.opts.MaxInFlight, func() { t.delays.forget("") })
	if err != nil {
		return err
	}
	// Messages with a Delay wait in the delay queue of their bucket.
	for i := range msgs {
		if d := msgs[i].Delay; d > 0 {
			b := bucket(d)
			if _, err := t.delays.ensure(ctx, t.l, delayQueue(t.name, b), b, t.name, ""); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	direct := target{exchange: t.name, mandatory: !t.opts.DropUnroutable}
	return p.publish(ctx, len(msgs), func(i int) (target, amqp.Publishing) {
		m := &msgs[i]
		pub := toPublishing(m, now)
		m.ID = pub.MessageId // mq reads it only if the message was sent
		if m.Delay > 0 {
			return target{key: delayQueue(t.name, bucket(m.Delay)), mandatory: true}, pub
		}
		return direct, pub
	})
}

func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As accepts **amqp.Connection and **amqp.Channel (the confirm channel).
func (t *topic) As(i any) bool { return t.as(i, t.pubs.channel) }

// Close closes the channel and, if the handle dialed it, the connection.
func (t *topic) Close() error {
	if t.pubs.close() {
		t.l.close()
	}
	return nil
}
