package mq

import (
	"context"
	"sync/atomic"
)

// claimKey is the context key of the claim a Consumer holds for the
// delivery its handler is running.
type claimKey struct{}

type heldClaim struct {
	Claim
	completed atomic.Bool
}

// ClaimFromContext returns the idempotency claim the Consumer holds for the
// delivery being handled, when the Consumer has an IdempotencyStore. A
// handler that completes the claim itself, in the same transaction as its
// effects (see drivers/postgres), calls ClaimCompleted after the commit so
// the Consumer does not complete it again.
func ClaimFromContext(ctx context.Context) (Claim, bool) {
	if h, ok := ctx.Value(claimKey{}).(*heldClaim); ok {
		return h.Claim, true
	}
	return Claim{}, false
}

// ClaimCompleted tells the Consumer that the handler running under ctx
// completed its idempotency claim itself (committed with its effects): the
// Consumer then neither completes nor releases it. It does nothing when
// ctx carries no claim.
func ClaimCompleted(ctx context.Context) {
	if h, ok := ctx.Value(claimKey{}).(*heldClaim); ok {
		h.completed.Store(true)
	}
}
