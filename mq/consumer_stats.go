package mq

import "sync/atomic"

// ConsumerStats are running totals of a Consumer.
type ConsumerStats struct {
	Received     int64 // deliveries taken from the subscription
	Acked        int64 // handler succeeded and the ack went through
	Retried      int64 // handler failed; nacked with backoff
	DeadLettered int64 // permanent error or max attempts
	Duplicates   int64 // skipped because the idempotency store had the key
	Errors       int64 // settling calls that failed (the message comes back)
	InFlight     int64 // deliveries held now
}

type consumerStats struct {
	received, acked, retried, deadLettered, duplicates, errors atomic.Int64
}

// Stats returns the Consumer's running totals.
func (c *Consumer) Stats() ConsumerStats {
	c.mu.Lock()
	n := len(c.inflight)
	c.mu.Unlock()
	return ConsumerStats{
		Received: c.stats.received.Load(), Acked: c.stats.acked.Load(), Retried: c.stats.retried.Load(),
		DeadLettered: c.stats.deadLettered.Load(), Duplicates: c.stats.duplicates.Load(),
		Errors: c.stats.errors.Load(), InFlight: int64(n),
	}
}
