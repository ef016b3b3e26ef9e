package mq

import (
	"errors"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// deadLetter moves a settled-by-caller delivery to the dead-letter
// destination: natively when the driver can, else by republishing to the
// driver's dead-letter topic and then acking the original (a crash between
// the two leaves a duplicate in the dead-letter destination, never a loss).
func (s *Subscription) deadLetter(op string, d *Delivery, reason string) error {
	if dl, ok := s.native.(driver.DeadLetterer); ok && s.caps.DeadLetter.Has() {
		items := []driver.DeadLetter{{AckID: d.ackID, Reason: reason}}
		return wrapDriver(s.d, op, splitCall(items, s.caps.MaxBatch, func(items []driver.DeadLetter) error { return dl.DeadLetter(s.opCtx, items) }))
	}
	t, err := s.deadLetterTopic(op)
	if err != nil {
		// Nowhere to move it: give it back rather than strand it.
		_ = s.d.Nack(s.opCtx, []driver.AckID{d.ackID}, 0)
		return err
	}
	// The copy is built as the drivers that dead-letter by copying build
	// theirs (Kafka, RabbitMQ): one function, one set of attributes.
	orig := driver.Message{Body: d.Body, Attributes: d.Attributes, Key: d.Key, DedupID: d.DedupID}
	msg := []driver.Message{redeliver.DeadLetter(&orig, reason, d.Attempt, s.info.Name, 0)}
	if err := t.SendBatch(s.opCtx, msg); err != nil {
		// Not moved: give the message back so it is not lost.
		_ = s.d.Nack(s.opCtx, []driver.AckID{d.ackID}, 0)
		return wrapDriver(t, op, driver.ItemError(err, 0))
	}
	return wrapDriver(s.d, op, s.d.Ack(s.opCtx, []driver.AckID{d.ackID}))
}

func (s *Subscription) deadLetterTopic(op string) (driver.Topic, error) {
	s.dlqMu.Lock()
	defer s.dlqMu.Unlock()
	if s.dlq != nil {
		return s.dlq, nil
	}
	o, ok := s.native.(driver.DeadLetterTopicOpener)
	if !ok || !s.info.HasDeadLetter {
		return nil, &Error{Code: Unsupported, Op: op, Msg: "subscription " + s.info.Name + " has no dead-letter destination", Err: errors.ErrUnsupported}
	}
	t, err := o.OpenDeadLetterTopic(s.opCtx)
	if err != nil {
		return nil, wrapDriver(s.d, op, err)
	}
	s.dlq = t
	return t, nil
}
