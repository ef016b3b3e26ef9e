package mq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// A deadline of the driver's own (its dial or request timeout) while the
// caller's context lives is an outage to wait out; the caller's own
// deadline is not. A raw connection loss classifies Unavailable.
func TestIsOutage(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	driverTimeout := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"unavailable", live, newError(Unavailable, "op", "", nil), true},
		{"driver's own deadline", live, driverTimeout, true},
		{"caller's deadline", ended, driverTimeout, false},
		{"raw EOF", live, io.EOF, true},
		{"invalid", live, newError(InvalidArgument, "op", "", nil), false},
		{"unknown", live, errors.New("boom"), false},
	} {
		if got := isOutage(c.ctx, c.err); got != c.want {
			t.Errorf("%s: isOutage = %v, want %v (code %v)", c.name, got, c.want, Code(c.err))
		}
	}
	if !IsRetryable(io.ErrUnexpectedEOF) {
		t.Error("IsRetryable(io.ErrUnexpectedEOF) is false: a raw connection loss must be retryable")
	}
}
