package gocloud

import (
	"context"
	"errors"
	"time"

	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// claim marks each delivery settled. It returns the deliveries it may act
// on (nil where it may not, with the item's error) and how many it marked,
// for settled.
func (s *subscription) claim(ids []driver.AckID) (recs []*delivery, errs []error, marked int) {
	recs = make([]*delivery, len(ids))
	errs = make([]error, len(ids))
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	for i, id := range ids {
		rec, ok := id.Ref.(*delivery)
		if !ok || rec == nil || rec.m == nil || !rec.settled.CompareAndSwap(false, true) {
			errs[i] = driver.ErrLeaseExpired()
			continue
		}
		marked++
		if rec.gen != gen {
			// Its Go CDK subscription was dropped with the connection:
			// the backend has it back.
			errs[i] = driver.ErrLeaseExpired()
			continue
		}
		recs[i] = rec
	}
	return recs, errs, marked
}

// Ack acknowledges through the Go CDK, which sends acks in the background:
// a failed ack surfaces as an error of a later ReceiveBatch, and the
// message is delivered again.
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	recs, errs, marked := s.claim(ids)
	for _, rec := range recs {
		if rec != nil {
			rec.m.Ack()
		}
	}
	s.settled(marked)
	return driver.BatchResult(errs)
}

// Nack makes the deliveries available again. With a retry topic it
// republishes a copy carrying the deliveries so far and then acks the
// original, with redeliver.Move (a crash in between leaves both, never
// neither; a failed copy gives the original back); without one it
// nacks through the Go CDK, uncounted, where the Go CDK driver can nack
// (Message.Nackable) and fails with Unsupported where it cannot (the
// backend then redelivers after its own ack deadline, if it has one).
// delay is always 0: mq holds delayed nacks (Capabilities.NackDelay None).
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, _ time.Duration) error {
	recs, errs, marked := s.claim(ids)
	defer s.settled(marked)
	if !s.canRetry() {
		for i, rec := range recs {
			switch {
			case rec == nil:
			case rec.m.Nackable():
				rec.m.Nack()
			default:
				errs[i] = &driver.Error{Code: driver.Unsupported, Msg: "gocloud: this Go CDK driver cannot nack and the subscription has no retry_topic; the backend redelivers after its own ack deadline, if it has one", Err: errors.ErrUnsupported}
			}
		}
		return driver.BatchResult(errs)
	}
	rt, err := s.retryTopic(ctx)
	var cur *pubsub.Topic
	if err == nil {
		cur, err = rt.current(ctx)
	}
	var copies []driver.Message
	var at []int
	for i, rec := range recs {
		switch {
		case rec == nil:
		case err != nil:
			giveBack(rec)
			errs[i] = err
		default:
			md := retryMetadata(rec.m.Metadata, rec.attempt, s.name, rec.id)
			copies = append(copies, driver.Message{Body: rec.m.Body, Attributes: md})
			at = append(at, i)
		}
	}
	send := redeliver.Each(func(ctx context.Context, k int, m *driver.Message) error {
		return rt.sendRaw(ctx, cur, m.Body, m.Attributes, recs[at[k]].id)
	})
	errs = redeliver.Move(ctx, send, copies, at, func(k int, err error) error {
		if rec := recs[at[k]]; err != nil {
			giveBack(rec)
		} else {
			rec.m.Ack()
		}
		return err
	}, errs, len(ids))
	return driver.BatchResult(errs)
}

// giveBack returns a delivery whose retry copy could not be sent: nacked
// (uncounted) where the Go CDK driver can, else left to the backend's ack
// deadline.
func giveBack(rec *delivery) {
	if rec.m.Nackable() {
		rec.m.Nack()
	}
}

// retryTopic opens the retry topic on first use.
func (s *subscription) retryTopic(ctx context.Context) (*topic, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retry != nil {
		return s.retry, nil
	}
	if s.closed {
		return nil, &driver.Error{Code: driver.Closed, Msg: "gocloud: subscription closed"}
	}
	t, err := openTopic(ctx, s.c.mux, s.retryURL)
	if err != nil {
		return nil, err
	}
	s.retry = t
	return t, nil
}
