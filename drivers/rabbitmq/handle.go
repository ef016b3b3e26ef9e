package rabbitmq

import (
	"context"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// capabilities are the same for topics and subscriptions (ordered
// subscriptions leave nack delays to mq).
func capabilities(maxBody int) driver.Capabilities {
	return driver.Capabilities{
		Lease:       driver.None,
		NackDelay:   driver.Driver,
		Attempts:    driver.Native,
		DeadLetter:  driver.Native,
		Dedup:       driver.None,
		Ordering:    driver.Driver,
		Delay:       driver.Driver,
		Seek:        driver.None,
		MaxBodySize: maxBody,
		MaxDelay:    maxBucket,
		Granularity: minBucket,
	}
}

// native is the part of driver.Common every handle shares.
type native struct{ l *link }

func (native) ErrorCode(err error) driver.ErrorCode { return classify(err) }
func (native) ErrorAs(err error, i any) bool        { return errorAs(err, i) }

// as serves As: **amqp.Connection gets the current connection and
// **amqp.Channel what ch returns (nil: not offered).
func (n native) as(i any, ch func() *amqp.Channel) bool {
	switch p := i.(type) {
	case **amqp.Connection:
		c := n.l.current()
		if c == nil {
			return false
		}
		*p = c
		return true
	case **amqp.Channel:
		c := ch()
		if c == nil {
			return false
		}
		*p = c
		return true
	}
	return false
}

// pubSlot holds a handle's confirm-mode channel, reopened (redialing if
// need be) after a loss.
type pubSlot struct {
	mu     sync.Mutex
	pub    *publisher
	closed bool
}

// get returns the live publisher; reopened is called when it replaces a
// lost one.
func (ps *pubSlot) get(ctx context.Context, l *link, window int, reopened func()) (*publisher, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errClosed
	}
	if ps.pub != nil && ps.pub.alive() {
		return ps.pub, nil
	}
	conn, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	if ps.pub != nil {
		ps.pub.close()
		ps.pub = nil
		if reopened != nil {
			reopened()
		}
	}
	p, err := newPublisher(conn, window, l.secret)
	if err != nil {
		return nil, err
	}
	ps.pub = p
	return p, nil
}

// channel returns the current channel, nil if none.
func (ps *pubSlot) channel() *amqp.Channel {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.pub == nil {
		return nil
	}
	return ps.pub.ch
}

// close closes the channel; later gets fail with code Closed. It reports
// whether the slot was open.
func (ps *pubSlot) close() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return false
	}
	ps.closed = true
	if ps.pub != nil {
		ps.pub.close()
	}
	return true
}
