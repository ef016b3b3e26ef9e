package gcppubsub

import (
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/support/bundler"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portmq/portmq/mq/driver"
)

// errorCode classifies an error returned by this package: its own
// *driver.Error values, the client library's sentinels, and gRPC statuses
// (the client's *apierror.APIError carries one).
func errorCode(err error) driver.ErrorCode {
	if err == nil {
		return driver.OK
	}
	if c := driver.CodeOf(err); c != driver.Unknown {
		return c
	}
	switch {
	case errors.Is(err, driver.ErrInvalidURL), errors.Is(err, bundler.ErrOversizedItem):
		return driver.InvalidArgument
	case errors.Is(err, pubsub.ErrPublisherStopped):
		return driver.Closed
	case errors.Is(err, errors.ErrUnsupported):
		return driver.Unsupported
	}
	var paused pubsub.ErrPublishingPaused
	if errors.As(err, &paused) {
		// The driver resumes the key at once; sending again works.
		return driver.Unavailable
	}
	st, ok := status.FromError(err)
	if !ok {
		return driver.Unknown
	}
	return grpcCode(st.Code())
}

func grpcCode(c codes.Code) driver.ErrorCode {
	switch c {
	case codes.OK:
		return driver.OK
	case codes.NotFound:
		return driver.NotFound
	case codes.AlreadyExists:
		return driver.AlreadyExists
	case codes.InvalidArgument, codes.OutOfRange:
		return driver.InvalidArgument
	case codes.FailedPrecondition:
		return driver.FailedPrecondition
	case codes.PermissionDenied:
		return driver.PermissionDenied
	case codes.Unauthenticated:
		return driver.Unauthenticated
	case codes.Unavailable, codes.Aborted:
		return driver.Unavailable
	case codes.ResourceExhausted:
		return driver.ResourceExhausted
	case codes.DeadlineExceeded:
		return driver.DeadlineExceeded
	case codes.Canceled:
		return driver.Canceled
	case codes.Unimplemented:
		return driver.Unsupported
	case codes.Internal, codes.DataLoss:
		return driver.Internal
	}
	return driver.Unknown
}

// errorAs implements the ErrorAs methods: **status.Status receives the
// gRPC status of any error that carries one; every other target is tried
// with errors.As (for example **apierror.APIError or
// *pubsub.ErrPublishingPaused). A target errors.As cannot take reports
// false instead of panicking.
func errorAs(err error, target any) (ok bool) {
	if err == nil || target == nil {
		return false
	}
	if p, isStatus := target.(**status.Status); isStatus {
		if p == nil {
			return false
		}
		st, found := status.FromError(err)
		if !found {
			return false
		}
		*p = st
		return true
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return errors.As(err, target)
}

func newError(code driver.ErrorCode, format string, args ...any) *driver.Error {
	return driver.NewError(code, "gcppubsub: "+fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) *driver.Error {
	return newError(driver.InvalidArgument, format, args...)
}

// wrap adds what the driver was doing to a native error, keeping it
// reachable with errors.As (mq classifies it through errorCode).
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("gcppubsub: "+format+": %w", append(args, err)...)
}

// classified wraps a native error as a *driver.Error with its code, for
// errors that reach mq outside a driver object's ErrorCode (opening).
func classified(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &driver.Error{Code: errorCode(err), Msg: "gcppubsub: " + fmt.Sprintf(format, args...), Err: err}
}

var (
	errTopicClosed = newError(driver.Closed, "topic handle is closed")
	errSubClosed   = newError(driver.Closed, "subscription handle is closed")
	errAdminClosed = newError(driver.Closed, "admin is closed")
)
