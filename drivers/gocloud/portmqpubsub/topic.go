package portmqpubsub

import (
	"context"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub/driver"

	"github.com/portmq/portmq/mq"
)

// topic is a Go CDK driver.Topic over a portmq Producer.
type topic struct {
	p *mq.Producer
}

// SendBatch sends the batch with one portmq SendBatch (mq splits it to the
// backend's batch limit) and returns when the backend accepted every
// message. BeforeSend and AfterSend get an As function that accepts
// **mq.Message: before sending, set Key, DedupID or Delay there; after,
// read ID.
func (t *topic) SendBatch(ctx context.Context, ms []*driver.Message) error {
	buf := make([]mq.Message, len(ms))
	msgs := make([]*mq.Message, len(ms))
	for i, dm := range ms {
		m := &buf[i]
		m.Body, m.Attributes = dm.Body, dm.Metadata
		msgs[i] = m
		if dm.BeforeSend != nil {
			if err := dm.BeforeSend(messageAs(m)); err != nil {
				return err
			}
		}
	}
	var err error
	if len(msgs) == 1 {
		err = t.p.Send(ctx, msgs[0])
	} else {
		err = t.p.SendBatch(ctx, msgs)
	}
	if err != nil {
		return err
	}
	for i, dm := range ms {
		if dm.AfterSend != nil {
			if err := dm.AfterSend(messageAs(msgs[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func messageAs(m *mq.Message) func(any) bool {
	return func(i any) bool {
		p, ok := i.(**mq.Message)
		if ok && p != nil {
			*p = m
		}
		return ok && p != nil
	}
}

// IsRetryable reports whether the Go CDK should retry: portmq's
// Unavailable and ResourceExhausted errors.
func (t *topic) IsRetryable(err error) bool { return isRetryable(err) }

// As exposes the portmq Producer (**mq.Producer) and, through it, the
// portmq driver's native client (see that driver's # As section).
func (t *topic) As(i any) bool {
	if !validTarget(i) {
		return false
	}
	if p, ok := i.(**mq.Producer); ok {
		*p = t.p
		return true
	}
	return t.p.As(i)
}

// ErrorAs exposes *mq.Error and *mq.BatchError, and the portmq driver's
// native errors.
func (t *topic) ErrorAs(err error, i any) bool { return errorAs(err, i, t.p.ErrorAs) }

// ErrorCode maps mq.Code to the Go CDK's codes.
func (t *topic) ErrorCode(err error) gcerrors.ErrorCode { return errorCode(err) }

// Close shuts the Producer down.
func (t *topic) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return t.p.Shutdown(ctx)
}
