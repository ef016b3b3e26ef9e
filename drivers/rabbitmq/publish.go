package rabbitmq

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// publisher is one AMQP channel in confirm mode. Any number of goroutines
// publish on it at once; at most cap(window) messages are unconfirmed at a
// time. Each caller waits for the broker's confirms of its own messages
// (amqp091-go's deferred confirmations) and frees their window slots;
// while it waits for a slot it also collects its oldest confirms, so
// callers never wait on each other's slots forever.
//
// Unroutable messages (mandatory flag, no queue bound) come back as a
// basic.return, which the broker sends before the message's basic.ack and
// amqp091-go's one reader goroutine hands over, into the buffered returns
// channel, before it resolves the confirmation. So once a confirmation is
// resolved, its return (if any) is in the channel or, taken from it under
// retMu, in returned.
type publisher struct {
	ch     *amqp.Channel
	window chan struct{}
	closes chan *amqp.Error
	secret string

	retMu    sync.Mutex
	returns  chan amqp.Return // nil once closed
	returned map[string]returned
}

type returned struct {
	r  amqp.Return
	at time.Time
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
	return &publisher{
		ch:     ch,
		window: make(chan struct{}, window),
		closes: ch.NotifyClose(make(chan *amqp.Error, 1)),
		secret: secret,
		// At most window messages are unconfirmed, so at most window
		// returns wait here: the reader goroutine never blocks on it.
		returns:  ch.NotifyReturn(make(chan amqp.Return, window)),
		returned: map[string]returned{},
	}, nil
}

// alive reports whether the channel can still publish.
func (p *publisher) alive() bool { return !p.ch.IsClosed() }

// wasReturned reports (and forgets) the return of message id.
func (p *publisher) wasReturned(id string) *amqp.Return {
	p.retMu.Lock()
	defer p.retMu.Unlock()
drain:
	for p.returns != nil {
		select {
		case r, ok := <-p.returns:
			if !ok {
				p.returns = nil
				break drain
			}
			now := time.Now()
			if len(p.returned) > cap(p.window) {
				// Returns of callers that gave up waiting.
				for k, v := range p.returned {
					if now.Sub(v.at) > time.Minute {
						delete(p.returned, k)
					}
				}
			}
			p.returned[r.MessageId] = returned{r, now}
		default:
			break drain
		}
	}
	if len(p.returned) == 0 {
		return nil
	}
	r, ok := p.returned[id]
	if !ok {
		return nil
	}
	delete(p.returned, id)
	return &r.r
}

// closedError says why the channel ended.
func (p *publisher) closedError() error {
	var reason *amqp.Error
	select {
	case reason = <-p.closes:
	default:
	}
	if reason != nil && classify(reason) != driver.Unavailable {
		// For example NOT_FOUND: the exchange was deleted.
		return &driver.Error{Code: classify(reason), Msg: "rabbitmq: the broker closed the channel", Err: driver.Redacted(reason, p.secret)}
	}
	var cause error
	if reason != nil {
		cause = reason
	}
	return unavailable("the channel closed before the broker confirmed the message; it may or may not have been stored", cause)
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

// sent is a published message waiting for its confirm.
type sent struct {
	dc        *amqp.DeferredConfirmation
	id        string
	mandatory bool
}

// publishOne publishes one message and waits for its confirm.
func (p *publisher) publishOne(ctx context.Context, t target, m amqp.Publishing) error {
	return driver.ItemError(p.publish(ctx, 1, func(int) (target, amqp.Publishing) { return t, m }), 0)
}

// publish publishes n messages, message i being what next(i) returns
// (built only when it is its turn, so a large batch is never converted
// at once), and waits for their confirms. It returns nil, a
// *driver.BatchError, or an error for the whole call (ctx ended: the
// messages may or may not be stored).
func (p *publisher) publish(ctx context.Context, n int, next func(i int) (target, amqp.Publishing)) error {
	if n == 0 {
		return nil
	}
	out := make([]sent, n)
	var errs []error
	fail := func(i int, err error) { errs = driver.SetItemError(errs, n, i, err) }
	oldest := 0 // out[oldest:published] hold window slots
	// reap waits for the confirm of message oldest and frees its slot.
	reap := func() error {
		o := &out[oldest]
		select {
		case <-o.dc.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		<-p.window
		switch {
		case !o.dc.Acked() && p.ch.IsClosed():
			fail(oldest, p.closedError())
		case !o.dc.Acked():
			fail(oldest, &driver.Error{Code: driver.Unavailable, Msg: "rabbitmq: the broker refused the message; it was not stored", Err: errPublishNacked})
		case o.mandatory:
			if r := p.wasReturned(o.id); r != nil {
				fail(oldest, returnError(r))
			}
		}
		*o = sent{}
		oldest++
		return nil
	}
	// release frees the slots of messages not reaped, when giving up.
	release := func(published int) {
		for ; oldest < published; oldest++ {
			<-p.window
		}
	}
	published := 0
	for i := range n {
		if err := p.acquire(ctx, out, &oldest, published, reap); err != nil {
			release(published)
			return err
		}
		t, m := next(i)
		dc, err := p.ch.PublishWithDeferredConfirm(t.exchange, t.key, t.mandatory, false, m)
		if err != nil {
			<-p.window
			if errors.Is(err, amqp.ErrClosed) {
				err = p.closedError()
			}
			for j := i; j < n; j++ {
				fail(j, err)
			}
			break
		}
		out[i] = sent{dc: dc, id: m.MessageId, mandatory: t.mandatory}
		published++
	}
	for oldest < published {
		if err := reap(); err != nil {
			release(published)
			return err
		}
	}
	return driver.BatchResult(errs)
}

// acquire takes a window slot, collecting this caller's oldest confirms
// while it waits.
func (p *publisher) acquire(ctx context.Context, out []sent, oldest *int, published int, reap func() error) error {
	for {
		var done <-chan struct{}
		if *oldest < published {
			done = out[*oldest].dc.Done()
		}
		select {
		case p.window <- struct{}{}:
			return nil
		case <-done:
			if err := reap(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close closes the channel.
func (p *publisher) close() { _ = p.ch.Close() }

// errPublishNacked is the cause of a publish the broker answered with
// basic.nack: nothing was stored, so publishing again cannot duplicate.
var errPublishNacked = errors.New("basic.nack")
