package sns

import (
	"context"

	"github.com/portmq/portmq/mq/driver"
)

var _ driver.Backlogger = (*subscription)(nil)

// Backlog implements driver.Backlogger with the subscribed queue's count
// (see the sqs driver).
func (s *subscription) Backlog(ctx context.Context) (int64, error) {
	if b, ok := s.Subscription.(driver.Backlogger); ok {
		return b.Backlog(ctx)
	}
	return 0, driver.NewError(driver.Unsupported, "sns: the queue cannot report a backlog")
}
