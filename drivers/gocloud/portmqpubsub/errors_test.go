package portmqpubsub

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub/driver"

	"github.com/portmq/portmq/mq"
)

func TestErrorCodeMapsEveryPortmqCode(t *testing.T) {
	want := map[mq.ErrorCode]gcerrors.ErrorCode{
		mq.NotFound: gcerrors.NotFound, mq.AlreadyExists: gcerrors.AlreadyExists,
		mq.InvalidArgument: gcerrors.InvalidArgument, mq.FailedPrecondition: gcerrors.FailedPrecondition,
		mq.PermissionDenied: gcerrors.PermissionDenied, mq.Unauthenticated: gcerrors.PermissionDenied,
		mq.Unavailable: gcerrors.Unknown, mq.ResourceExhausted: gcerrors.ResourceExhausted,
		mq.DeadlineExceeded: gcerrors.DeadlineExceeded, mq.Canceled: gcerrors.Canceled,
		mq.Unsupported: gcerrors.Unimplemented, mq.Closed: gcerrors.FailedPrecondition,
		mq.Internal: gcerrors.Internal, mq.Unknown: gcerrors.Unknown,
	}
	for c := mq.Unknown; c <= mq.Internal; c++ {
		w, ok := want[c]
		if !ok {
			t.Errorf("test has no expectation for %v", c)
			continue
		}
		err := &mq.Error{Code: c, Op: "test"}
		if got := errorCode(err); got != w {
			t.Errorf("errorCode(%v) = %v, want %v", c, got, w)
		}
		if got := errorCode(fmt.Errorf("wrapped: %w", err)); got != w {
			t.Errorf("errorCode(wrapped %v) = %v, want %v", c, got, w)
		}
		if r := isRetryable(err); r != (c == mq.Unavailable || c == mq.ResourceExhausted) {
			t.Errorf("isRetryable(%v) = %v", c, r)
		}
	}
	if errorCode(nil) != gcerrors.OK || errorCode(context.Canceled) != gcerrors.Canceled || errorCode(errors.New("x")) != gcerrors.Unknown {
		t.Error("nil, context.Canceled or a plain error misclassified")
	}
	// A partial batch failure is classified by its failed item.
	be := &mq.BatchError{Errs: []error{nil, &mq.Error{Code: mq.Unavailable}}}
	if errorCode(be) != gcerrors.Unknown || !isRetryable(be) {
		t.Errorf("BatchError of an Unavailable item: code %v retryable %v", errorCode(be), isRetryable(be))
	}
}

func TestErrorAsGivesPortmqAndNativeErrors(t *testing.T) {
	native := errors.New("native")
	inner := &mq.Error{Code: mq.NotFound, Err: native}
	err := fmt.Errorf("outer: %w", &mq.BatchError{Errs: []error{inner}})
	var nativeCalls int
	nativeAs := func(e error, i any) bool {
		nativeCalls++
		if p, ok := i.(*error); ok {
			*p = native
			return true
		}
		return false
	}
	var me *mq.Error
	var be *mq.BatchError
	var got error
	if !errorAs(err, &me, nativeAs) || me != inner {
		t.Errorf("errorAs(**mq.Error) = %v", me)
	}
	if !errorAs(err, &be, nativeAs) || len(be.Errs) != 1 {
		t.Errorf("errorAs(**mq.BatchError) = %v", be)
	}
	if !errorAs(err, &got, nativeAs) || got != native || nativeCalls != 1 {
		t.Errorf("errorAs(*error) = %v after %d native calls", got, nativeCalls)
	}
	for _, target := range []any{nil, 3, (**mq.Error)(nil)} {
		if errorAs(err, target, nativeAs) {
			t.Errorf("errorAs(%T) = true", target)
		}
	}
	if errorAs(nil, &me, nativeAs) {
		t.Error("errorAs(nil error) = true")
	}
}

func TestSettleSuppressesOnlyDoubleSettles(t *testing.T) {
	// A non-delivery AckID is an error (the Go CDK never passes one).
	err := settle([]driver.AckID{"not a delivery"}, func(*mq.Delivery) error { return nil })
	if mq.Code(err) != mq.InvalidArgument {
		t.Errorf("settle of a foreign AckID = %v, want InvalidArgument", err)
	}
	calls := 0
	err = settle([]driver.AckID{&mq.Delivery{}, &mq.Delivery{}}, func(*mq.Delivery) error {
		calls++
		if calls == 1 {
			return mq.ErrSettled
		}
		return &mq.Error{Code: mq.Unavailable}
	})
	if calls != 2 || mq.Code(err) != mq.Unavailable {
		t.Errorf("settle: %d calls, error %v; want 2 calls and the Unavailable error only", calls, err)
	}
}
