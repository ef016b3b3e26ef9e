package portmqpubsub

import (
	"errors"
	"reflect"

	"gocloud.dev/gcerrors"

	"github.com/portmq/portmq/mq"
)

// codes maps portmq's error codes to the Go CDK's. The Go CDK has no
// Unavailable, Unauthenticated or Closed: Unavailable becomes Unknown (and
// IsRetryable reports true, so the Go CDK retries it),
// Unauthenticated becomes PermissionDenied, and Closed becomes
// FailedPrecondition, the code of the Go CDK's own "has been Shutdown"
// errors. Unsupported becomes Unimplemented.
var codes = map[mq.ErrorCode]gcerrors.ErrorCode{
	mq.OK:                 gcerrors.OK,
	mq.Unknown:            gcerrors.Unknown,
	mq.NotFound:           gcerrors.NotFound,
	mq.AlreadyExists:      gcerrors.AlreadyExists,
	mq.InvalidArgument:    gcerrors.InvalidArgument,
	mq.FailedPrecondition: gcerrors.FailedPrecondition,
	mq.PermissionDenied:   gcerrors.PermissionDenied,
	mq.Unauthenticated:    gcerrors.PermissionDenied,
	mq.Unavailable:        gcerrors.Unknown,
	mq.ResourceExhausted:  gcerrors.ResourceExhausted,
	mq.DeadlineExceeded:   gcerrors.DeadlineExceeded,
	mq.Canceled:           gcerrors.Canceled,
	mq.Unsupported:        gcerrors.Unimplemented,
	mq.Closed:             gcerrors.FailedPrecondition,
	mq.Internal:           gcerrors.Internal,
}

// errorCode classifies an error from mq (for a *mq.BatchError, by its
// first failed item).
func errorCode(err error) gcerrors.ErrorCode {
	if c, ok := codes[mq.Code(err)]; ok {
		return c
	}
	return gcerrors.Unknown
}

func isRetryable(err error) bool {
	switch mq.Code(err) {
	case mq.Unavailable, mq.ResourceExhausted:
		return true
	}
	return false
}

// errorAs fills *mq.Error and *mq.BatchError targets, and otherwise asks
// the portmq object (its driver's native errors).
func errorAs(err error, i any, native func(error, any) bool) bool {
	if err == nil || !validTarget(i) {
		return false
	}
	switch p := i.(type) {
	case **mq.Error:
		return errors.As(err, p)
	case **mq.BatchError:
		return errors.As(err, p)
	}
	return native(err, i)
}

func validTarget(i any) bool {
	if i == nil {
		return false
	}
	v := reflect.ValueOf(i)
	return v.Kind() == reflect.Pointer && !v.IsNil()
}
