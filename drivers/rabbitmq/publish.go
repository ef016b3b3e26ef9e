package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// publisher is one AMQP channel in confirm mode. Any number of goroutines
// publish on it at once; at most cap(window) messages are unconfirmed at a
// time. One goroutine (confirmLoop) reads the broker's confirms and
// returns: it gets a message's basic.return before its basic.ack (the
// broker sends them in that order and amqp091-go hands both over from its
// one reader goroutine, the returns through an unbuffered channel), so it
// knows that a confirmed message was unroutable.
type publisher struct {
	ch     *amqp.Channel
	window chan struct{}
	closes chan *amqp.Error
	done   chan struct{} // closed when the channel is gone and every waiter told
	secret string

	mu     sync.Mutex // serializes publishing with the delivery tag it gets
	ringMu sync.Mutex // guards ring; never held while blocking
	ring   []pending  // ring[tag % len]: the unconfirmed publish with that tag

	errMu sync.Mutex
	err   error // why the channel ended
}

type pending struct {
	b     *batch
	i     int
	msgID string
}

// batch collects the confirms of one publish call.
type batch struct {
	left   atomic.Int32
	errs   []error // errs[i] for message i; written before left reaches 0
	failed atomic.Bool
	done   chan struct{}
}

func newBatch(n int) *batch {
	b := &batch{errs: make([]error, n), done: make(chan struct{})}
	b.left.Store(int32(n))
	return b
}

// finish records message i's outcome.
func (b *batch) finish(i int, err error) {
	if err != nil {
		b.errs[i] = err
		b.failed.Store(true)
	}
	if b.left.Add(-1) == 0 {
		close(b.done)
	}
}

func newPublisher(conn *amqp.Connection, window int, secret string) (*publisher, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	p := &publisher{
		ch:     ch,
		window: make(chan struct{}, window),
		closes: ch.NotifyClose(make(chan *amqp.Error, 1)),
		done:   make(chan struct{}),
		ring:   make([]pending, window),
		secret: secret,
	}
	returns := ch.NotifyReturn(make(chan amqp.Return))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, window))
	go p.confirmLoop(confirms, returns)
	return p, nil
}

// alive reports whether the channel can still publish.
func (p *publisher) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return !p.ch.IsClosed()
	}
}

func (p *publisher) confirmLoop(confirms <-chan amqp.Confirmation, returns <-chan amqp.Return) {
	var returned map[string]*amqp.Return
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			if returned == nil {
				returned = map[string]*amqp.Return{}
			}
			returned[r.MessageId] = &r
		case c, ok := <-confirms:
			if !ok {
				p.fail()
				return
			}
			p.ringMu.Lock()
			slot := &p.ring[c.DeliveryTag%uint64(len(p.ring))]
			pd := *slot
			*slot = pending{}
			p.ringMu.Unlock()
			<-p.window
			if pd.b == nil {
				continue
			}
			var err error
			if r := returned[pd.msgID]; r != nil {
				delete(returned, pd.msgID)
				err = returnError(r)
			}
			if !c.Ack && err == nil {
				err = &driver.Error{Code: driver.Unavailable, Msg: "rabbitmq: the broker refused the message (basic.nack); it was not stored"}
			}
			pd.b.finish(pd.i, err)
		}
	}
}

// fail ends the publisher: every unconfirmed message fails (it may or may
// not have been stored).
func (p *publisher) fail() {
	var reason error
	select {
	case e := <-p.closes:
		if e != nil {
			reason = e
		}
	default:
	}
	err := unavailable("the channel closed before the broker confirmed the message; it may or may not have been stored", reason)
	if reason != nil && classify(reason) != driver.Unavailable {
		// For example NOT_FOUND: the exchange was deleted.
		err = &driver.Error{Code: classify(reason), Msg: "rabbitmq: the broker closed the channel", Err: &redactedError{reason, p.secret}}
	}
	p.errMu.Lock()
	p.err = err
	p.errMu.Unlock()
	p.ringMu.Lock()
	for i := range p.ring {
		if pd := p.ring[i]; pd.b != nil {
			p.ring[i] = pending{}
			pd.b.finish(pd.i, err)
		}
	}
	p.ringMu.Unlock()
	close(p.done)
}

func (p *publisher) deadError() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err != nil {
		return p.err
	}
	return unavailable("the channel is closed", nil)
}

func returnError(r *amqp.Return) error {
	what := "exchange " + strconv.Quote(r.Exchange)
	if r.Exchange == "" {
		what = "queue " + strconv.Quote(r.RoutingKey)
	}
	return &driver.Error{
		Code: driver.FailedPrecondition,
		Msg:  "rabbitmq: " + what + " has no queue bound to it, so the message was not stored (" + strconv.Itoa(int(r.ReplyCode)) + " " + r.ReplyText + "); create a subscription first, or open the producer with unroutable=drop",
	}
}

// target is where one message goes.
type target struct {
	exchange, key string
	mandatory     bool
}

// publish publishes msgs[i] to to[i] (or to[0] when len(to) is 1) and
// waits for their confirms. It returns nil, a *driver.BatchError, or an
// error for the whole call (ctx ended: the messages may or may not be
// stored).
func (p *publisher) publish(ctx context.Context, to []target, msgs []amqp.Publishing) error {
	b := newBatch(len(msgs))
	for i := range msgs {
		t := to[0]
		if len(to) > 1 {
			t = to[i]
		}
		if finished, err := p.publishOne(ctx, b, i, t, &msgs[i]); err != nil {
			if finished {
				i++ // fail() already finished message i
			}
			for j := i; j < len(msgs); j++ {
				b.finish(j, err)
			}
			break
		}
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !b.failed.Load() {
		return nil
	}
	return &driver.BatchError{Errs: b.errs}
}

func (p *publisher) publishOne(ctx context.Context, b *batch, i int, t target, m *amqp.Publishing) (finished bool, err error) {
	select {
	case p.window <- struct{}{}:
	case <-p.done:
		return false, p.deadError()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	p.mu.Lock()
	tag := p.ch.GetNextPublishSeqNo()
	slot := &p.ring[tag%uint64(len(p.ring))]
	p.ringMu.Lock()
	*slot = pending{b: b, i: i, msgID: m.MessageId}
	p.ringMu.Unlock()
	err = p.ch.Publish(t.exchange, t.key, t.mandatory, false, *m)
	if err != nil {
		p.ringMu.Lock()
		// fail() may have finished (and cleared) the slot meanwhile.
		finished = slot.b != b || slot.i != i
		if !finished {
			*slot = pending{}
		}
		p.ringMu.Unlock()
	}
	p.mu.Unlock()
	if err == nil {
		return false, nil
	}
	<-p.window
	if errors.Is(err, amqp.ErrClosed) {
		err = unavailable("publish on a closed channel", err)
	}
	return finished, err
}

// close closes the channel and waits for confirmLoop to end.
func (p *publisher) close() {
	_ = p.ch.Close()
	<-p.done
}
