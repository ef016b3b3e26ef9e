package gocloud

import (
	"bytes"
	"context"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/mq/driver"
)

// closeTimeout bounds how long Close waits for the Go CDK to flush.
const closeTimeout = 30 * time.Second

// maxSendBatch is the most messages one SendBatch sends at once; mq splits
// larger batches.
const maxSendBatch = 256

// TopicOptions configures a topic made with NewTopic. Nil means defaults.
type TopicOptions struct {
	// MaxBodySize is the largest body the backend takes, reported in the
	// capabilities; 0 means no limit.
	MaxBodySize int
	// MaxAttributes is the most attributes a message may carry; 0 means the
	// contract's 32. The driver adds up to 4 metadata entries of its own.
	MaxAttributes int
}

// topic is a driver.Topic over a Go CDK topic.
type topic struct {
	c    *conns
	u    *url.URL // the Go CDK URL; nil for a topic given to NewTopic
	caps driver.Capabilities
	now  func() time.Time

	mu     sync.Mutex
	cur    *pubsub.Topic
	rel    release
	broken bool // cur failed with a broken connection: reopen before use
	closed bool
}

// NewTopic returns a driver.Topic that sends to t; wrap it with
// mq.NewProducer. The driver takes t over: closing the driver topic (mq's
// Producer.Shutdown) shuts t down. Unlike topics opened by URL, it does not
// reconnect.
func NewTopic(t *pubsub.Topic, opts *TopicOptions) driver.Topic {
	var o TopicOptions
	if opts != nil {
		o = *opts
	}
	return &topic{c: &conns{}, cur: t, rel: t.Shutdown, now: time.Now, caps: topicCaps(o.MaxBodySize, o.MaxAttributes)}
}

func topicCaps(maxBody, maxAttrs int) driver.Capabilities {
	return driver.Capabilities{MaxBodySize: maxBody, MaxAttributes: maxAttrs, MaxBatch: maxSendBatch}
}

// openTopic opens the Go CDK topic u through mux.
func openTopic(ctx context.Context, mux *pubsub.URLMux, u *url.URL) (*topic, error) {
	t := &topic{c: &conns{mux: mux}, u: u, now: time.Now, caps: topicCaps(lookupScheme(u.Scheme).maxBody, 0)}
	cur, rel, err := t.c.openTopic(ctx, u)
	if err != nil {
		_ = t.c.close()
		return nil, err
	}
	t.cur, t.rel = cur, rel
	return t, nil
}

// current returns the Go CDK topic to send to, reopening it after a
// broken connection.
func (t *topic) current(ctx context.Context) (*pubsub.Topic, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.broken || t.u == nil {
		return t.cur, nil
	}
	rel := t.rel
	t.cur, t.rel = nil, nil
	if rel != nil {
		sctx, cancel := context.WithTimeout(ctx, closeTimeout)
		_ = rel(sctx)
		cancel()
	}
	t.c.reset()
	cur, rel, err := t.c.openTopic(ctx, t.u)
	if err != nil {
		return nil, err
	}
	t.cur, t.rel, t.broken = cur, rel, false
	return cur, nil
}

// fail notes that a send on cur failed with err; a broken connection makes
// the next call reopen. It returns err, classified Unavailable if cur was
// replaced meanwhile.
func (t *topic) fail(cur *pubsub.Topic, err error) error {
	if errorCode(err) != driver.Unavailable {
		return err
	}
	t.mu.Lock()
	if t.cur == cur {
		t.broken = true
	}
	t.mu.Unlock()
	return err
}

// SendBatch sends every message, concurrently so that the Go CDK batches
// them, and returns when the Go CDK reports all of them sent.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	cur, err := t.current(ctx)
	if err != nil {
		return err
	}
	now := t.now()
	if len(msgs) == 1 {
		return t.send(ctx, cur, &msgs[0], now)
	}
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i := range msgs {
		wg.Go(func() { errs[i] = t.send(ctx, cur, &msgs[i], now) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return &driver.BatchError{Errs: errs}
		}
	}
	return nil
}

func (t *topic) send(ctx context.Context, cur *pubsub.Topic, m *driver.Message, now time.Time) error {
	md := encode(m, now)
	// The Go CDK's in-memory driver keeps the body it is given; mq lets
	// the caller reuse it after Send returns.
	err := t.sendRaw(ctx, cur, bytes.Clone(m.Body), md, m.ID)
	if err != nil {
		m.ID = ""
	}
	return err
}

// sendRaw sends one Go CDK message.
func (t *topic) sendRaw(ctx context.Context, cur *pubsub.Topic, body []byte, md map[string]string, id string) error {
	pm := &pubsub.Message{Body: body, Metadata: md, BeforeSend: beforeSend(id)}
	if err := cur.Send(ctx, pm); err != nil {
		return t.fail(cur, err)
	}
	return nil
}

// beforeSend makes AMQP messages persistent, so that a broker restart keeps
// them (rule 1; the Go CDK's rabbit driver sends them transient), and gives
// them id as their AMQP message-id. Other drivers offer no *amqp.Publishing
// and are left alone.
func beforeSend(id string) func(func(any) bool) error {
	return func(as func(any) bool) error {
		var p *amqp.Publishing
		if as(&p) && p != nil {
			p.DeliveryMode = amqp.Persistent
			if p.MessageId == "" {
				p.MessageId = id
			}
		}
		return nil
	}
}

// Capabilities implements driver.Topic: everything beyond sending is
// emulated by mq (delayed delivery) or missing (dedup).
func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As exposes the Go CDK topic (**pubsub.Topic) and, through it, the Go CDK
// driver's types (for example **amqp.Connection).
func (t *topic) As(i any) bool {
	cur := t.snapshot()
	return asWith(i, cur, cur.As)
}

// ErrorAs implements driver.Common.
func (t *topic) ErrorAs(err error, i any) bool {
	if cur := t.snapshot(); cur != nil {
		return errorAs(err, i, cur.ErrorAs)
	}
	return errorAs(err, i, nil)
}

func (t *topic) snapshot() *pubsub.Topic {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// ErrorCode implements driver.Common.
func (t *topic) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close shuts the Go CDK topic down (a shared mem topic stays) and closes
// the handle's connection.
func (t *topic) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var err error
	if t.rel != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		err = t.rel(ctx)
		cancel()
	}
	if cerr := t.c.close(); err == nil {
		err = cerr
	}
	return err
}
