package memdriver

import (
	"context"

	"github.com/portmq/portmq/mq/driver"
)

var _ driver.Backlogger = (*subHandle)(nil)

// Backlog implements driver.Backlogger: the messages waiting in the
// subscription, ready, delayed or behind their key (leased ones are not
// counted).
func (h *subHandle) Backlog(context.Context) (int64, error) {
	if h.closed.Load() {
		return 0, errSubClosed
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.ready.len() + s.delayed.Len() + s.keys.Waiting()
	return int64(n), nil
}
