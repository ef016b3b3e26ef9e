package gocloud

import (
	"context"
	"time"

	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/mq/driver"
)

// parkDelay is how long a handle that owns its connection waits, idle
// (no Receive running, nothing unsettled), before it parks.
const parkDelay = 100 * time.Millisecond

// enter starts a ReceiveBatch: it returns the Go CDK subscription and its
// generation, reopening it if it is parked or failed for good (the Go CDK
// returns the same error forever once ReceiveBatch or SendAcks failed with
// a non-retryable one). leave must follow.
func (s *subscription) enter(ctx context.Context) (*pubsub.Subscription, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, &driver.Error{Code: driver.Closed, Msg: "gocloud: subscription closed"}
	}
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.cur != nil && !(s.broken && s.reopens()) {
		s.active++
		return s.cur, s.gen, nil
	}
	s.drop(ctx)
	cur, rel, err := s.c.openSubscription(ctx, s.u, s.name)
	if err != nil {
		return nil, 0, err
	}
	s.cur, s.rel, s.broken = cur, rel, false
	s.active++
	return cur, s.gen, nil
}

// reopens reports whether a failed Go CDK subscription is replaced; a
// given one cannot be, and a shared one is the queue itself.
func (s *subscription) reopens() bool { return s.u != nil && !lookupScheme(s.u.Scheme).shared }

// drop shuts the current Go CDK subscription down and resets the handle's
// connection, which hands the deliveries the Go CDK fetched ahead back to
// the broker. Deliveries handed out before become stale. s.mu is held.
func (s *subscription) drop(ctx context.Context) {
	if s.rel != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		_ = s.rel(sctx)
		cancel()
	}
	s.cur, s.rel = nil, nil
	s.c.reset()
	s.gen++
}

// leave ends a ReceiveBatch that handed out n deliveries.
func (s *subscription) leave(n int) {
	s.mu.Lock()
	s.active--
	s.outstanding += n
	s.parkIfIdle()
	s.mu.Unlock()
}

// settled notes that n deliveries were settled (their ack, nack or retry
// copy handed to the Go CDK).
func (s *subscription) settled(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.outstanding -= n
	s.parkIfIdle()
	s.mu.Unlock()
}

// parkIfIdle arms the park timer when nothing runs and nothing is
// unsettled. s.mu is held.
//
// Parking exists because RabbitMQ pushes messages to every consumer of a
// queue: a handle that stopped receiving but stays open (a Consumer shut
// down, the Subscription not yet) would keep the messages pushed to it,
// and the retried copies of its own nacks, from the other handles until it
// closes. A parked handle has shut its Go CDK subscription down and closed
// its connection, which hands those back; the next ReceiveBatch reopens.
func (s *subscription) parkIfIdle() {
	if !s.parkable || s.closed || s.cur == nil || s.active > 0 || s.outstanding > 0 {
		return
	}
	if s.idle == nil {
		s.idle = time.AfterFunc(parkDelay, s.park)
		return
	}
	s.idle.Reset(parkDelay)
}

func (s *subscription) park() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cur == nil || s.active > 0 || s.outstanding > 0 {
		return
	}
	s.drop(context.Background())
}

// ReceiveBatch returns one delivery at a time: the Go CDK's Receive
// already fetches in batches behind it. Retried copies meant for another
// subscription of the retry topic are acked and skipped.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	cur, gen, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	for {
		m, err := cur.Receive(ctx)
		if err != nil {
			s.mu.Lock()
			if ctx.Err() == nil && s.gen == gen {
				s.broken = true
			}
			s.mu.Unlock()
			s.leave(0)
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, err
		}
		attrs, d := decode(m.Metadata)
		if d.For != "" && d.For != s.name {
			m.Ack()
			continue
		}
		s.fill(&dst[0], m, gen, attrs, &d)
		s.leave(1)
		return 1, nil
	}
}

func (s *subscription) fill(dm *driver.Message, m *pubsub.Message, gen uint64, attrs map[string]string, d *decoded) {
	id := d.ID
	if id == "" {
		id = m.LoggableID // not sent through portmq
	}
	rec := &delivery{m: m, gen: gen, id: id, attempt: d.Attempt()}
	*dm = driver.Message{
		ID:          id,
		Body:        m.Body,
		Attributes:  attrs,
		Key:         d.key,
		DedupID:     d.dedupID,
		PublishedAt: d.publishedAt,
		AckID:       driver.AckID{Ref: rec},
		Native:      (*cdkMessage)(m),
	}
	if s.caps.Attempts.Has() {
		dm.Attempt = rec.attempt
	}
}

// cdkMessage is a received Go CDK message as driver.Message.Native: a
// conversion of the pointer, so no allocation per message.
type cdkMessage pubsub.Message

// NativeAs implements driver.NativeAs: the Go CDK message
// (**pubsub.Message) and, through it, the Go CDK driver's message type
// (for example *amqp.Delivery).
func (c *cdkMessage) NativeAs(i any) bool {
	m := (*pubsub.Message)(c)
	return asWith(i, m, m.As)
}
