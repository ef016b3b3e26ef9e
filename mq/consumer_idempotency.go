package mq

import (
	"context"
	"time"

	"github.com/portmq/portmq/clock"
)

// The Consumer's idempotency: the claim around a handler run.

// claim claims key, waiting while a duplicate holds the claim: the
// duplicate either succeeds (then this one is Done) or fails and releases
// it (then this one runs). Waiting keeps the delivery, and its lease, in
// hand, so it costs no attempt. It returns Busy only when ctx ends.
func (c *Consumer) claim(ctx context.Context, key string) (Claim, error) {
	wait := 5 * time.Millisecond
	// A claim outlives the longest a handler may keep the delivery.
	ttl := c.cfg.maxExtension + c.sub.info.Lease
	for {
		res, err := c.cfg.store.Claim(ctx, key, ttl)
		if err != nil || res.Result != Busy {
			return res, err
		}
		if clock.Sleep(ctx, c.clk, wait, nil) != nil {
			return res, nil
		}
		wait = min(2*wait, time.Second)
	}
}

// claimFor takes d's idempotency claim (its DedupID, else its ID) when
// the Consumer has a store, and returns ctx carrying it. When the claim
// says not to run the handler (the claim failed, the key is done, or it
// stayed busy until the Consumer stopped), it settles d and returns
// settled with what it did.
func (c *Consumer) claimFor(ctx context.Context, d *Delivery) (_ context.Context, cl *heldClaim, _ ProcessResult, settled bool) {
	if c.cfg.store == nil {
		return ctx, nil, ProcessResult{}, false
	}
	key := d.DedupID
	if key == "" {
		key = d.ID
	}
	res, err := c.claim(ctx, key)
	switch {
	case err != nil:
		c.logf("idempotency claim failed", err)
		delay := c.cfg.backoff.Delay(1)
		c.settle(d.Nack(delay))
		c.stats.retried.Add(1)
		return ctx, nil, ProcessResult{Err: err, Outcome: OutcomeRetried, NextDelay: delay}, true
	case res.Result == Done:
		c.stats.duplicates.Add(1)
		c.settle(d.Ack())
		return ctx, nil, ProcessResult{Outcome: OutcomeDuplicate}, true
	case res.Result == Busy:
		// Still claimed when the consumer stops: hand it back.
		c.settle(d.Nack(0))
		return ctx, nil, ProcessResult{Outcome: OutcomeHandedBack}, true
	}
	cl = &heldClaim{Claim: res}
	return context.WithValue(ctx, claimKey{}, cl), cl, ProcessResult{}, false
}

// finishClaim completes cl after the handler succeeded (ok) or releases it
// after it failed, unless the handler completed it itself; cl may be nil.
func (c *Consumer) finishClaim(ctx context.Context, cl *heldClaim, ok bool) {
	if cl == nil || cl.completed.Load() {
		return
	}
	if ok {
		// Record it even if Shutdown cancels ctx right now.
		if cerr := c.cfg.store.Complete(context.WithoutCancel(ctx), cl.Claim); cerr != nil {
			c.logf("idempotency complete failed", cerr)
		}
		return
	}
	if rerr := c.cfg.store.Release(context.WithoutCancel(ctx), cl.Claim); rerr != nil {
		c.logf("idempotency release failed", rerr)
	}
}
