package wmportmq

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq"
)

// PublisherConfig configures a Publisher. Nil means defaults.
type PublisherConfig struct {
	// Mux opens the portmq URLs. Nil means mq.DefaultURLMux(), where
	// portmq drivers register from init.
	Mux *mq.URLMux
	// KeyMetadata, if set, names the metadata entry whose value becomes
	// the portmq message's Key (ordering key); the entry stays in the
	// metadata too. Default: none (messages have no Key).
	KeyMetadata string
	// SendTimeout bounds one Publish call. Default 1 minute. Within it
	// portmq waits out a connection loss (it retries Unavailable sends).
	SendTimeout time.Duration
	// CloseTimeout bounds Close's shutdown of the producers. Default 30 s.
	CloseTimeout time.Duration
	// Provision, if set, is called before a topic's producer is first
	// opened, to create what the backend needs to exist first (a Kafka
	// topic, with an mq.Admin's CreateTopic): an error matching mq.ErrAlreadyExists
	// counts as success; another fails the Publish (and the next Publish
	// calls it again). Default: none (mem and amqp create on open).
	Provision func(ctx context.Context, topic string) error
}

// Publisher is a Watermill message.Publisher that sends through portmq.
// It opens one mq.Producer per Watermill topic, on first Publish, from its
// URL template. It is safe for concurrent use.
type Publisher struct {
	tmpl template
	cfg  PublisherConfig

	mu     sync.Mutex
	topics map[string]*producerSlot
	closed bool
}

// producerSlot opens a topic's producer once, outside Publisher.mu.
type producerSlot struct {
	once sync.Once
	p    *mq.Producer
	err  error
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher that sends a Watermill topic T to the
// portmq producer URL urlTemplate with {topic} replaced by T (escaped),
// for example "mem://{topic}" or
// "amqp://guest:guest@localhost:5672/?topic={topic}". It opens nothing
// yet: an invalid URL fails the first Publish to a topic.
func NewPublisher(urlTemplate string, cfg *PublisherConfig) (*Publisher, error) {
	const op = "wmportmq.NewPublisher"
	t, err := parseTemplate(op, urlTemplate, TopicPlaceholder)
	if err != nil {
		return nil, err
	}
	p := &Publisher{tmpl: t, topics: make(map[string]*producerSlot)}
	if cfg != nil {
		p.cfg = *cfg
	}
	if p.cfg.SendTimeout < 0 || p.cfg.CloseTimeout < 0 {
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "negative SendTimeout or CloseTimeout"}
	}
	if p.cfg.Mux == nil {
		p.cfg.Mux = mq.DefaultURLMux()
	}
	if p.cfg.SendTimeout == 0 {
		p.cfg.SendTimeout = time.Minute
	}
	if p.cfg.CloseTimeout == 0 {
		p.cfg.CloseTimeout = 30 * time.Second
	}
	return p, nil
}

// Publish sends messages to topic in one mq.Producer.SendBatch and returns
// when the backend has them all (each durably accepted, as portmq's Send
// promises), or the first error. A message that portmq cannot carry
// (over 31 metadata entries, a key over 128 bytes, a value over 4096
// bytes, a key starting with "portmq-") fails the whole call with
// InvalidArgument before anything is sent. On a partial failure the error
// is an *mq.BatchError naming the messages that failed.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	const op = "wmportmq.Publisher.Publish"
	if len(messages) == 0 {
		return nil
	}
	batch := make([]*mq.Message, len(messages))
	for i, m := range messages {
		pm, err := toPortmq(op, m, p.cfg.KeyMetadata)
		if err != nil {
			return err
		}
		batch[i] = pm
	}
	prod, err := p.producer(topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.SendTimeout)
	defer cancel()
	return prod.SendBatch(ctx, batch)
}

// producer returns the topic's producer, opening it on first use.
func (p *Publisher) producer(topic string) (*mq.Producer, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, &mq.Error{Code: mq.Closed, Op: "wmportmq.Publisher.Publish", Msg: "publisher closed"}
	}
	s, ok := p.topics[topic]
	if !ok {
		s = new(producerSlot)
		p.topics[topic] = s
	}
	p.mu.Unlock()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.SendTimeout)
		defer cancel()
		if s.err = provision(ctx, "wmportmq.Publisher.Publish", p.cfg.Provision, topic); s.err != nil {
			return
		}
		s.p, s.err = p.cfg.Mux.OpenProducer(ctx, p.tmpl.expand(topic, ""))
	})
	if s.err != nil {
		// Not cached: the next Publish tries to open it again.
		p.mu.Lock()
		if p.topics[topic] == s {
			delete(p.topics, topic)
		}
		p.mu.Unlock()
	}
	return s.p, s.err
}

// Close shuts every producer down (each flushes what it was sending) and
// makes later Publish calls fail with code Closed. Later calls return nil.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	slots := p.topics
	p.topics = nil
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.CloseTimeout)
	defer cancel()
	var errs []error
	for _, s := range slots {
		s.once.Do(func() { s.err = errors.New("closed") }) // an open in progress finishes first
		if s.p != nil {
			errs = append(errs, s.p.Shutdown(ctx))
		}
	}
	return errors.Join(errs...)
}

// provision calls f (PublisherConfig.Provision) unless it is nil; an
// error matching mq.ErrAlreadyExists is success.
func provision(ctx context.Context, op string, f func(context.Context, string) error, topic string) error {
	if f == nil {
		return nil
	}
	if err := f(ctx, topic); err != nil && !errors.Is(err, mq.ErrAlreadyExists) {
		return &mq.Error{Code: mq.Code(err), Op: op, Msg: "provisioning topic " + strconv.Quote(topic), Err: err}
	}
	return nil
}
