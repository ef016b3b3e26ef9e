package mq

import (
	"context"
	"strings"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// ForwardOption configures Forward.
type ForwardOption func(*forwardConfig) error

type forwardConfig struct {
	batch     int
	limit     int
	idle      time.Duration
	stripMeta bool
}

// ForwardBatch sets how many messages Forward moves per round: one
// ReceiveBatch, one SendBatch and one AckBatch (default 100).
func ForwardBatch(n int) ForwardOption {
	return func(c *forwardConfig) error {
		if n < 1 || n > 10000 {
			return newError(InvalidArgument, "mq.ForwardBatch", "batch must be 1 to 10000", nil)
		}
		c.batch = n
		return nil
	}
}

// ForwardLimit makes Forward return after forwarding n messages (default
// 0: no limit).
func ForwardLimit(n int) ForwardOption {
	return func(c *forwardConfig) error {
		if n < 0 {
			return newError(InvalidArgument, "mq.ForwardLimit", "must not be negative", nil)
		}
		c.limit = n
		return nil
	}
}

// ForwardIdle makes Forward return nil once no message arrived for d
// (default 0: run until ctx ends), for draining a subscription.
func ForwardIdle(d time.Duration) ForwardOption {
	return func(c *forwardConfig) error {
		if d < 0 {
			return newError(InvalidArgument, "mq.ForwardIdle", "must not be negative", nil)
		}
		c.idle = d
		return nil
	}
}

// ForwardStripDeadLetter removes portmq's dead-letter metadata
// (AttrDeadLetterReason, AttrAttempts, AttrSource) from the forwarded
// messages, for redriving dead letters to where they came from as fresh
// messages (default: the metadata is carried).
func ForwardStripDeadLetter() ForwardOption {
	return func(c *forwardConfig) error {
		c.stripMeta = true
		return nil
	}
}

// Forward moves messages from a subscription to a producer's topic, for
// example from a PostgreSQL outbox subscription to a broker, or dead
// letters back to their topic. Each round receives up to a batch
// (ReceiveBatch), sends it (SendBatch) and acks exactly the messages the
// destination confirmed (AckBatch): a message is acked only after the
// destination durably accepted it, so a crash in between sends it again
// (at-least-once; set DedupID for a destination or an IdempotencyStore
// to drop the copy). Body, Attributes (portmq's dead-letter metadata
// included, unless ForwardStripDeadLetter), Key and DedupID are carried;
// the destination assigns a new ID.
//
// Forward returns how many messages it forwarded, and: nil once
// ForwardLimit messages were forwarded or no message arrived for
// ForwardIdle; ctx's error (wrapped) when ctx ended; the first send or
// ack error otherwise. Messages the destination refused are nacked
// without delay (so they come back, counting an attempt) before Forward
// returns the error.
func Forward(ctx context.Context, from *Subscription, to *Producer, opts ...ForwardOption) (int, error) {
	const op = "mq.Forward"
	if from == nil || to == nil {
		return 0, newError(InvalidArgument, op, "nil subscription or producer", nil)
	}
	cfg := forwardConfig{batch: 100}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return 0, err
		}
	}
	n := 0
	msgs := make([]*Message, 0, cfg.batch)
	for cfg.limit == 0 || n < cfg.limit {
		want := cfg.batch
		if cfg.limit > 0 {
			want = min(want, cfg.limit-n)
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if cfg.idle > 0 {
			// The idle time is measured on the Subscription's clock.
			rctx, cancel = context.WithCancel(ctx)
			t := from.clk.AfterFunc(cfg.idle, cancel)
			stop := cancel
			cancel = func() { t.Stop(); stop() }
		}
		ds, err := from.ReceiveBatch(rctx, want)
		cancel()
		if err != nil {
			if ctx.Err() == nil && cfg.idle > 0 && rctx.Err() != nil {
				return n, nil // idle
			}
			return n, err
		}
		msgs = msgs[:0]
		for _, d := range ds {
			msgs = append(msgs, forwarded(d, cfg.stripMeta))
		}
		serr := to.sendCarrying(ctx, op, msgs)
		sent := ds
		var failed []*Delivery
		if serr != nil {
			sent = sent[:0:0]
			for i, d := range ds {
				if itemError(serr, i) == nil {
					sent = append(sent, d)
				} else {
					failed = append(failed, d)
				}
			}
		}
		aerr := from.AckBatch(sent)
		n += len(sent)
		if aerr != nil {
			for i := range sent {
				if itemError(aerr, i) != nil {
					n-- // not acked: it comes back and is forwarded again
				}
			}
		}
		for _, d := range failed {
			_ = d.Nack(0)
		}
		switch {
		case serr != nil:
			return n, serr
		case aerr != nil:
			return n, aerr
		}
	}
	return n, nil
}

// itemError returns the error of item i of a batch call's result err: the
// item's own error for a *BatchError, else err itself.
func itemError(err error, i int) error {
	if be, ok := err.(*BatchError); ok {
		if i < len(be.Errs) {
			return be.Errs[i]
		}
		return nil
	}
	return err
}

// forwarded is the message to send for d.
func forwarded(d *Delivery, strip bool) *Message {
	m := &Message{Body: d.Body, Key: d.Key, DedupID: d.DedupID}
	if len(d.Attributes) > 0 {
		m.Attributes = make(map[string]string, len(d.Attributes))
		for k, v := range d.Attributes {
			if strip && (k == AttrDeadLetterReason || k == AttrAttempts || k == AttrSource) {
				continue
			}
			m.Attributes[k] = v
		}
	}
	return m
}

// sendCarrying is SendBatch for messages that may carry portmq's own
// metadata attributes (which Send refuses from applications): each is
// validated without them, then sent with them.
func (p *Producer) sendCarrying(ctx context.Context, op string, msgs []*Message) error {
	for _, m := range msgs {
		user := m
		if hasMeta(m.Attributes) {
			c := *m
			c.Attributes = make(map[string]string, len(m.Attributes))
			for k, v := range m.Attributes {
				if !strings.HasPrefix(k, driver.AttrPrefix) {
					c.Attributes[k] = v
				}
			}
			user = &c
		}
		if err := validate(user, &p.caps); err != nil {
			err.Op = op
			return err
		}
	}
	if !p.gate.enter() {
		return newError(Closed, op, "producer is shut down", nil)
	}
	defer p.gate.leave()
	limit := p.caps.MaxBatch
	if limit <= 0 {
		limit = len(msgs)
	}
	var errs []error
	buf := make([]driver.Message, 0, min(limit, len(msgs)))
	for start := 0; start < len(msgs); start += limit {
		chunk := msgs[start:min(start+limit, len(msgs))]
		buf = buf[:len(chunk)]
		for i, m := range chunk {
			buf[i] = driver.Message{}
			p.toDriver(&buf[i], m)
		}
		err := p.d.SendBatch(ctx, buf)
		for i, m := range chunk {
			if ierr := driver.ItemError(err, i); ierr != nil {
				if errs == nil {
					errs = make([]error, len(msgs))
				}
				errs[start+i] = wrapDriver(p.d, op, ierr)
			} else {
				m.ID = buf[i].ID
			}
		}
	}
	if errs != nil {
		return &BatchError{Errs: errs}
	}
	return nil
}

func hasMeta(attrs map[string]string) bool {
	for k := range attrs {
		if strings.HasPrefix(k, driver.AttrPrefix) {
			return true
		}
	}
	return false
}
