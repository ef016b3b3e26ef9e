package mq

import (
	"context"
	"errors"
	"time"

	"github.com/portmq/portmq/clock"
)

// Waiting out an outage (rule 15). A driver reports a lost or refused
// connection as Unavailable and reconnects on its next call; it does not
// retry on its own. mq retries, once for every driver: Producer.Send and
// SendBatch retry what failed Unavailable, and Subscription.Receive and
// ReceiveBatch fetch again, each pacing its tries with reconnectBackoff,
// until the caller's context ends or Shutdown begins. Then they return the
// last Unavailable error, which IsRetryable reports true.

// reconnectBackoff paces retries after a connection loss: 50 ms doubling
// to 2 s, jittered, so that many clients do not reconnect in lock-step.
var reconnectBackoff = Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}

// isConnectionLoss reports whether err (already classified by mq) says the
// backend could not be reached, so that the same call may succeed later.
func isConnectionLoss(err error) bool { return Code(err) == Unavailable }

// isOutage is isConnectionLoss for a call made with ctx: a deadline that
// was not ctx's (a dial or request timeout of the driver's own, while the
// caller's context is alive) is an outage too.
func isOutage(ctx context.Context, err error) bool {
	switch Code(err) {
	case Unavailable:
		return true
	case DeadlineExceeded:
		return ctx.Err() == nil
	}
	return false
}

// pauseRetry waits before try number try (1-based) of an operation that
// failed Unavailable. It returns nil when the operation should be tried
// again; otherwise stop's or ctx's reason.
func pauseRetry(ctx context.Context, clk clock.Clock, stop <-chan struct{}, try int) error {
	err := clock.Sleep(ctx, clk, reconnectBackoff.Delay(try), stop)
	if err == clock.ErrStopped {
		return errStopped
	}
	return err
}

var errStopped = errors.New("shutting down")

// outageError is what a retried call returns when it gives up: code
// Unavailable (retryable), the last driver error for errors.As, and the
// reason it stopped trying.
func outageError(op string, last error, why error) error {
	if why == nil {
		return last
	}
	return &Error{Code: Unavailable, Op: op, Msg: "backend unreachable (" + why.Error() + " while waiting to retry)", Err: last}
}
