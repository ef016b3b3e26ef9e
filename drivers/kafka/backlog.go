package kafka

import (
	"context"
	"errors"

	"github.com/portmq/portmq/mq/driver"
)

var _ driver.Backlogger = (*subscription)(nil)

// Backlog implements driver.Backlogger: in consumer-group mode, the
// group's lag on the topic (end offsets less committed offsets, which the
// driver commits only up to the first unsettled record). Share groups
// have no committed offsets to measure: Unsupported.
func (s *subscription) Backlog(ctx context.Context) (int64, error) {
	if s.o.Mode == ShareMode {
		return 0, &driver.Error{Code: driver.Unsupported, Msg: "kafka: share groups have no lag to report", Err: errors.ErrUnsupported}
	}
	lags, err := s.adm.Lag(ctx, s.group)
	if err != nil {
		return 0, wrap("lag of group "+s.group, err)
	}
	l, ok := lags[s.group]
	if !ok {
		return 0, nil
	}
	if err := l.Error(); err != nil {
		return 0, wrap("lag of group "+s.group, err)
	}
	return l.Lag.TotalByTopic()[s.topic].Lag, nil
}
