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
func errorCode(err error) driver.ErrorCode { return classifier.Code(err) }

var classifier = driver.Classifier{Native: func(err error) (driver.ErrorCode, bool) {
	switch {
	case errors.Is(err, bundler.ErrOversizedItem):
		return driver.InvalidArgument, true
	case errors.Is(err, pubsub.ErrPublisherStopped):
		return driver.Closed, true
	}
	var paused pubsub.ErrPublishingPaused
	if errors.As(err, &paused) {
		// The driver resumes the key at once; sending again works.
		return driver.Unavailable, true
	}
	// An error that is not a gRPC status goes on to the network's.
	st, ok := status.FromError(err)
	return grpcCode(st.Code()), ok
}}

// grpcCodes maps gRPC codes to portmq's; the others are Unknown.
var grpcCodes = map[codes.Code]driver.ErrorCode{
	codes.OK:                 driver.OK,
	codes.NotFound:           driver.NotFound,
	codes.AlreadyExists:      driver.AlreadyExists,
	codes.InvalidArgument:    driver.InvalidArgument,
	codes.OutOfRange:         driver.InvalidArgument,
	codes.FailedPrecondition: driver.FailedPrecondition,
	codes.PermissionDenied:   driver.PermissionDenied,
	codes.Unauthenticated:    driver.Unauthenticated,
	codes.Unavailable:        driver.Unavailable,
	codes.Aborted:            driver.Unavailable,
	codes.ResourceExhausted:  driver.ResourceExhausted,
	codes.DeadlineExceeded:   driver.DeadlineExceeded,
	codes.Canceled:           driver.Canceled,
	codes.Unimplemented:      driver.Unsupported,
	codes.Internal:           driver.Internal,
	codes.DataLoss:           driver.Internal,
}

func grpcCode(c codes.Code) driver.ErrorCode {
	if code, ok := grpcCodes[c]; ok {
		return code
	}
	return driver.Unknown
}

// native gives the driver's handles the error methods of driver.Common.
type native struct{}

// ErrorAs implements driver.Common; see errorAs.
func (native) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (native) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// asClient implements the As methods for a **pubsub.Client target.
func asClient(i any, c *pubsub.Client) bool {
	if p, ok := i.(**pubsub.Client); ok && p != nil {
		*p = c
		return true
	}
	return false
}

// errorAs implements the ErrorAs methods: **status.Status receives the
// gRPC status of any error that carries one; every other target is tried
// with errors.As (for example **apierror.APIError or
// *pubsub.ErrPublishingPaused). A target errors.As cannot take reports
// false instead of panicking.
func errorAs(err error, target any) bool {
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
	return driver.ErrorAs(err, target)
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
