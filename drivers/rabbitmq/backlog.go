package rabbitmq

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

var _ driver.Backlogger = (*subscription)(nil)

// Backlog implements driver.Backlogger: the queue's ready messages as a
// passive declare reports them (unacknowledged ones, and those waiting in
// wait queues for a delayed retry, are not counted).
func (s *subscription) Backlog(ctx context.Context) (int64, error) {
	var n int
	err := s.l.withChannel(ctx, func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclarePassive(s.queue, true, false, false, false, nil)
		n = q.Messages
		return err
	})
	if err != nil {
		return 0, err
	}
	return int64(n), nil
}
