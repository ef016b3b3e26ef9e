package portmqpubsub

import (
	"context"
	"errors"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub/driver"

	"github.com/portmq/portmq/mq"
)

// maxWait is how long ReceiveBatch waits for a message before it returns
// none, as the Go CDK's driver contract asks ("no more than about 1
// second").
const maxWait = time.Second

// subscription is a Go CDK driver.Subscription over a portmq Subscription.
type subscription struct {
	s *mq.Subscription
}

// ReceiveBatch receives up to maxMessages deliveries, waiting (without
// polling) up to maxWait for the first. Each message's AckID is its
// *mq.Delivery, and its As accepts **mq.Delivery.
func (s *subscription) ReceiveBatch(ctx context.Context, maxMessages int) ([]*driver.Message, error) {
	rctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	ds, err := s.s.ReceiveBatch(rctx, max(maxMessages, 1))
	if err != nil {
		if ctx.Err() == nil && rctx.Err() != nil {
			return nil, nil // nothing within maxWait; the Go CDK calls again
		}
		return nil, err
	}
	buf := make([]driver.Message, len(ds))
	out := make([]*driver.Message, len(ds))
	for i, d := range ds {
		buf[i] = driver.Message{LoggableID: d.ID, Body: d.Body, Metadata: d.Attributes, AckID: d, AsFunc: deliveryAs(d)}
		out[i] = &buf[i]
	}
	return out, nil
}

// deliveryAs exposes the delivery (**mq.Delivery), with its Attempt, Key,
// DedupID, PublishedAt, Extend, Nack(delay) and DeadLetter, and through it
// the portmq driver's native message.
func deliveryAs(d *mq.Delivery) func(any) bool {
	return func(i any) bool {
		if !validTarget(i) {
			return false
		}
		if p, ok := i.(**mq.Delivery); ok {
			*p = d
			return true
		}
		return d.As(i)
	}
}

// SendAcks acks each delivery. A delivery settled already (acked twice,
// or settled through its *mq.Delivery) or whose lease ended (it is
// delivered again) is not an error, as the Go CDK asks.
func (s *subscription) SendAcks(ctx context.Context, ids []driver.AckID) error {
	return settle(ids, (*mq.Delivery).Ack)
}

// CanNack reports true: portmq nacks on every backend (natively or
// emulated).
func (s *subscription) CanNack() bool { return true }

// SendNacks nacks each delivery with no delay (the Go CDK's Nack has
// none): it is delivered again promptly with Attempt + 1, or
// dead-lettered at the subscription's max attempts. For a delay, nack the
// *mq.Delivery from Message.As and then Ack the Go CDK message.
func (s *subscription) SendNacks(ctx context.Context, ids []driver.AckID) error {
	return settle(ids, func(d *mq.Delivery) error { return d.Nack(0) })
}

func settle(ids []driver.AckID, f func(*mq.Delivery) error) error {
	var errs []error
	for _, id := range ids {
		d, ok := id.(*mq.Delivery)
		if !ok {
			errs = append(errs, errNotDelivery)
			continue
		}
		if err := f(d); err != nil && !errors.Is(err, mq.ErrSettled) && !errors.Is(err, mq.ErrLeaseExpired) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var errNotDelivery = &mq.Error{Code: mq.InvalidArgument, Op: "portmqpubsub", Msg: "AckID is not an *mq.Delivery"}

// IsRetryable reports whether the Go CDK should retry: portmq's
// Unavailable and ResourceExhausted errors.
func (s *subscription) IsRetryable(err error) bool { return isRetryable(err) }

// As exposes the portmq Subscription (**mq.Subscription) and, through it,
// the portmq driver's native client.
func (s *subscription) As(i any) bool {
	if !validTarget(i) {
		return false
	}
	if p, ok := i.(**mq.Subscription); ok {
		*p = s.s
		return true
	}
	return s.s.As(i)
}

// ErrorAs exposes *mq.Error and the portmq driver's native errors.
func (s *subscription) ErrorAs(err error, i any) bool { return errorAs(err, i, s.s.ErrorAs) }

// ErrorCode maps mq.Code to the Go CDK's codes.
func (s *subscription) ErrorCode(err error) gcerrors.ErrorCode { return errorCode(err) }

// Close shuts the Subscription down, which hands unsettled deliveries
// back to the backend.
func (s *subscription) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return s.s.Shutdown(ctx)
}
