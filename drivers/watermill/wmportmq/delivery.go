package wmportmq

import (
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq"
)

// Delivery returns the portmq delivery behind a message a Subscriber
// handed out, through the message's context: its Attempt, ID, Key,
// DedupID and PublishedAt, Extend, and DeadLetter (which moves the
// message to the subscription's dead-letter destination at once; Ack or
// Nack the Watermill message afterwards as usual, which then does
// nothing). It reports false for other messages, and for a message whose
// context was replaced (message.SetContext) with one not derived from it.
//
// Do not Ack or Nack the delivery itself: Ack and Nack the Watermill
// message, which the Subscriber turns into the delivery's settlement
// (with the configured backoff).
func Delivery(m *message.Message) (*mq.Delivery, bool) {
	if m == nil {
		return nil, false
	}
	d, ok := m.Context().Value(deliveryKey{}).(*mq.Delivery)
	return d, ok && d != nil
}
