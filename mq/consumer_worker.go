package mq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/portmq/portmq/clock"
)

// The Consumer's workers: receive, run the handler, settle.

// worker receives and handles until recvCtx ends.
func (c *Consumer) worker(recvCtx, hctx context.Context) error {
	failures := 0
	for {
		d, err := c.sub.Receive(recvCtx)
		if err != nil {
			if recvCtx.Err() != nil {
				return nil
			}
			if Code(err) == Closed {
				return err
			}
			c.logf("receive failed", err)
			failures++
			if clock.Sleep(recvCtx, c.clk, c.cfg.backoff.Delay(failures), nil) != nil {
				return nil
			}
			continue
		}
		failures = 0
		c.stats.received.Add(1)
		c.track(d)
		if c.sub.info.Ordered && d.Key != "" && !c.claimKey(d) {
			continue // queued behind its key; handled by the key's owner
		}
		for d != nil {
			c.handle(hctx, d)
			d = c.nextForKey(d)
		}
	}
}

func (c *Consumer) handle(ctx context.Context, d *Delivery) {
	defer c.untrack(d)
	if obs := c.sub.obs; obs != nil {
		var done func(ProcessResult)
		ctx, done = obs.StartProcess(ctx, d)
		done(c.process(ctx, d))
		return
	}
	c.process(ctx, d)
}

// process runs the handler over d (with the idempotency claim around it)
// and settles d; it returns what it did, for the observer.
func (c *Consumer) process(ctx context.Context, d *Delivery) ProcessResult {
	if ctx.Err() != nil {
		c.settle(d.Nack(0)) // stopping: hand it back at once
		return ProcessResult{Outcome: OutcomeHandedBack}
	}
	ctx, cl, res, settled := c.claimFor(ctx, d)
	if settled {
		return res
	}
	err := c.call(ctx, d)
	if err == nil {
		c.finishClaim(ctx, cl, true)
		if c.settle(d.Ack()) {
			c.stats.acked.Add(1)
		}
		return ProcessResult{Outcome: OutcomeAcked}
	}
	c.finishClaim(ctx, cl, false)
	res = ProcessResult{Err: err}
	switch {
	case ctx.Err() != nil:
		// Canceled by Shutdown or Run's context: not the message's fault.
		c.settle(d.Nack(0))
		res.Outcome = OutcomeHandedBack
	case IsPermanent(err):
		if c.settle(d.DeadLetter("permanent error: " + err.Error())) {
			c.stats.deadLettered.Add(1)
		}
		res.Outcome = OutcomeDeadLettered
	case c.cfg.maxAttempts > 0 && d.Attempt >= c.cfg.maxAttempts:
		if c.settle(d.DeadLetter("max attempts (" + strconv.Itoa(c.cfg.maxAttempts) + ") reached; last error: " + err.Error())) {
			c.stats.deadLettered.Add(1)
		}
		res.Outcome = OutcomeDeadLettered
	default:
		res.Outcome, res.NextDelay = OutcomeRetried, c.cfg.backoff.Delay(d.Attempt)
		if c.settle(d.Nack(res.NextDelay)) {
			c.stats.retried.Add(1)
		}
	}
	c.logFailure(ctx, d, res)
	return res
}

// logFailure logs a failed handler run once, with what happens next.
func (c *Consumer) logFailure(ctx context.Context, d *Delivery, res ProcessResult) {
	l := c.cfg.logger
	if l == nil {
		return
	}
	level := slog.LevelWarn
	if res.Outcome == OutcomeDeadLettered {
		level = slog.LevelError
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("subscription", c.sub.info.Name),
		slog.String("message_id", d.ID),
		slog.Int("attempt", d.Attempt),
		slog.String("outcome", res.Outcome.String()),
		slog.Any("err", res.Err),
	}
	if res.Outcome == OutcomeRetried {
		attrs = append(attrs, slog.Duration("next_delay", res.NextDelay))
	}
	if c.cfg.maxAttempts > 0 {
		attrs = append(attrs, slog.Int("max_attempts", c.cfg.maxAttempts))
	}
	l.LogAttrs(ctx, level, "portmq consumer: handler failed", attrs...)
}

// call runs the handler, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mq: handler panicked: %v", r)
		}
	}()
	return c.h(ctx, d)
}

// settle reports whether a settling call succeeded, logging other errors.
// ErrSettled after a Shutdown handed the delivery back is expected.
func (c *Consumer) settle(err error) bool {
	if err == nil {
		return true
	}
	if !errors.Is(err, ErrSettled) {
		c.stats.errors.Add(1)
		c.logf("settling a delivery failed", err)
	}
	return false
}
