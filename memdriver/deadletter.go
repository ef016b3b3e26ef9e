package memdriver

import (
	"strconv"

	"github.com/portmq/portmq/mq/driver"
)

// deadLetter removes e (already out of leased) from the subscription and
// queues a copy for the dead-letter topic, published by unlock.
func (s *subscription) deadLetter(e *entry, at *instant, reason string) {
	attrs := make(map[string]string, len(e.attrs)+3)
	for k, v := range e.attrs {
		attrs[k] = v
	}
	attrs[driver.AttrDeadLetterReason] = reason
	attrs[driver.AttrAttempts] = strconv.Itoa(e.attempts)
	attrs[driver.AttrSource] = s.full
	s.dead = append(s.dead, driver.Message{Body: e.body, Attributes: attrs, Key: e.key, DedupID: e.dedupID})
	s.releaseKey(e, at)
	s.pool.put(e)
}
