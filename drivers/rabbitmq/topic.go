package rabbitmq

import (
	"context"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// topic is a driver.Topic on one fanout exchange. Sends are published on
// one confirm-mode channel with a bounded window of unconfirmed messages
// and return once the broker confirmed every one of them.
type topic struct {
	l    *link
	name string
	opts TopicOptions
	caps driver.Capabilities

	mu     sync.Mutex
	pub    *publisher
	closed bool

	delays holdings // the delay queues this handle declared
}

var _ driver.Topic = (*topic)(nil)

// NewTopic returns a topic handle for the exchange name over conn,
// declaring it (a durable fanout exchange). conn stays the caller's:
// Close closes only the channel the handle opened. Wrap the result with
// mq.NewProducer.
func NewTopic(conn *amqp.Connection, name string, opts *TopicOptions) (driver.Topic, error) {
	if conn == nil {
		return nil, optionError("NewTopic: nil connection")
	}
	if name == "" || len(name) > 255 {
		return nil, optionError("NewTopic: topic name must be 1 to 255 bytes")
	}
	var redial func(context.Context) (*amqp.Connection, error)
	if opts != nil {
		redial = opts.Redial
	}
	return newTopic(newLink(conn, redial), name, opts)
}

func newTopic(l *link, name string, o *TopicOptions) (*topic, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &topic{
		l:    l,
		name: name,
		opts: opts,
		caps: driver.Capabilities{
			Lease:       driver.None,
			NackDelay:   driver.Driver,
			Attempts:    driver.Native,
			DeadLetter:  driver.Native,
			Dedup:       driver.None,
			Ordering:    driver.Driver,
			Delay:       driver.Driver,
			Seek:        driver.None,
			MaxBodySize: opts.MaxBodySize,
			MaxDelay:    maxBucket,
			Granularity: minBucket,
		},
	}
	conn, err := l.get(context.Background())
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	err = declareTopic(ch, name)
	_ = ch.Close()
	if err != nil {
		return nil, declareError("topic "+strconv.Quote(name), err)
	}
	return t, nil
}

// publisher returns the live confirm channel, reopening it (and
// redialing) after a loss.
func (t *topic) publisher(ctx context.Context) (*publisher, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errClosed
	}
	if t.pub != nil && t.pub.alive() {
		return t.pub, nil
	}
	conn, err := t.l.get(ctx)
	if err != nil {
		return nil, err
	}
	if t.pub != nil {
		t.pub.close()
		t.delays.forget("")
	}
	p, err := newPublisher(conn, t.opts.MaxInFlight, t.l.secret)
	if err != nil {
		t.pub = nil
		return nil, err
	}
	t.pub = p
	return p, nil
}

// SendBatch implements driver.Topic. Messages with a Delay go to the
// topic's delay queue of their bucket first.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	p, err := t.publisher(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	pubs := make([]amqp.Publishing, len(msgs))
	direct := target{exchange: t.name, mandatory: !t.opts.DropUnroutable}
	to := []target{direct}
	for i := range msgs {
		pubs[i] = toPublishing(&msgs[i], now)
		if msgs[i].Delay > 0 {
			if len(to) == 1 {
				to = make([]target, len(msgs))
				for j := range i {
					to[j] = direct
				}
			}
			b := bucket(msgs[i].Delay)
			dq := delayQueue(t.name, b)
			if err := t.delays.ensure(ctx, t.l, dq, b, t.name, ""); err != nil {
				return err
			}
			to[i] = target{key: dq, mandatory: true}
		} else if len(to) > 1 {
			to[i] = direct
		}
	}
	err = p.publish(ctx, to, pubs)
	for i := range msgs {
		if driver.ItemError(err, i) == nil {
			msgs[i].ID = pubs[i].MessageId
		}
	}
	return err
}

func (t *topic) Capabilities() driver.Capabilities    { return t.caps }
func (t *topic) ErrorCode(err error) driver.ErrorCode { return classify(err) }
func (t *topic) ErrorAs(err error, i any) bool        { return errorAs(err, i) }

// As accepts **amqp.Connection and **amqp.Channel (the confirm channel).
func (t *topic) As(i any) bool {
	if asConn(t.l, i) {
		return true
	}
	p, ok := i.(**amqp.Channel)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pub == nil {
		return false
	}
	*p = t.pub.ch
	return true
}

// Close closes the channel and, if the handle dialed it, the connection.
func (t *topic) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	p := t.pub
	t.mu.Unlock()
	if p != nil {
		p.close()
	}
	t.l.close()
	return nil
}
