package mq

import (
	"log/slog"
	"time"

	"github.com/portmq/portmq/clock"
)

// The Consumer's options.

type consumerConfig struct {
	concurrency  int
	backoff      Backoff
	maxExtension time.Duration
	maxAttempts  int
	store        IdempotencyStore
	logger       *slog.Logger
	clk          clock.Clock
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*consumerConfig) error

// WithConcurrency sets how many handlers run at once (default 8).
func WithConcurrency(n int) ConsumerOption {
	return func(c *consumerConfig) error {
		if n < 1 || n > 100000 {
			return newError(InvalidArgument, "mq.WithConcurrency", "concurrency must be 1 to 100000", nil)
		}
		c.concurrency = n
		return nil
	}
}

// WithBackoff sets the retry backoff after a failed handler (default
// DefaultBackoff: 1 s doubling to 5 min, with jitter).
func WithBackoff(b Backoff) ConsumerOption {
	return func(c *consumerConfig) error {
		if b.Min < 0 || b.Max < b.Min {
			return newError(InvalidArgument, "mq.WithBackoff", "want 0 <= Min <= Max", nil)
		}
		c.backoff = b
		return nil
	}
}

// WithMaxExtension caps how long the Consumer keeps extending the lease of
// a delivery whose handler is still running (default 1 h). After that the
// lease ends and the message is delivered again.
func WithMaxExtension(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) error {
		if d <= 0 {
			return newError(InvalidArgument, "mq.WithMaxExtension", "must be positive", nil)
		}
		c.maxExtension = d
		return nil
	}
}

// WithMaxAttempts dead-letters a message whose handler failed on attempt n
// or later (default: the subscription's MaxAttempts; 0 there means retry
// forever). The subscription needs a dead-letter destination.
func WithMaxAttempts(n int) ConsumerOption {
	return func(c *consumerConfig) error {
		if n < 0 {
			return newError(InvalidArgument, "mq.WithMaxAttempts", "must not be negative", nil)
		}
		c.maxAttempts = n
		return nil
	}
}

// WithIdempotency makes the handler run to success at most once per key
// (the DedupID, else the message ID) as recorded by store (default: none).
// A claim is taken for the longest a handler may hold its delivery
// (WithMaxExtension, 1 h by default, plus one lease): if a process dies
// mid-handler, a shared store keeps the key claimed that long, and the
// redelivered message waits (its lease kept) until the claim expires. Set
// WithMaxExtension to what your handlers need to bound that wait.
func WithIdempotency(store IdempotencyStore) ConsumerOption {
	return func(c *consumerConfig) error {
		c.store = store
		return nil
	}
}

// WithConsumerClock makes the Consumer measure its retry backoff, lease
// keeping and idempotency waits with c (default: the Subscription's clock;
// see WithSubscriptionClock). Deadlines of the contexts passed in stay on
// real time.
func WithConsumerClock(c clock.Clock) ConsumerOption {
	return func(cfg *consumerConfig) error {
		if c == nil {
			return newError(InvalidArgument, "mq.WithConsumerClock", "nil clock", nil)
		}
		cfg.clk = c
		return nil
	}
}

// WithLogger sets where the Consumer reports failures it cannot return,
// such as a failed ack (default: nowhere).
func WithLogger(l *slog.Logger) ConsumerOption {
	return func(c *consumerConfig) error {
		c.logger = l
		return nil
	}
}
