package mq

import (
	"context"
	"errors"

	"github.com/portmq/portmq/mq/driver"
)

// ErrorCode classifies errors; see Code.
type ErrorCode = driver.ErrorCode

// The error codes. See the driver package for what each means.
const (
	OK                 = driver.OK
	Unknown            = driver.Unknown
	NotFound           = driver.NotFound
	AlreadyExists      = driver.AlreadyExists
	InvalidArgument    = driver.InvalidArgument
	FailedPrecondition = driver.FailedPrecondition
	PermissionDenied   = driver.PermissionDenied
	Unauthenticated    = driver.Unauthenticated
	Unavailable        = driver.Unavailable
	ResourceExhausted  = driver.ResourceExhausted
	DeadlineExceeded   = driver.DeadlineExceeded
	Canceled           = driver.Canceled
	Unsupported        = driver.Unsupported
	Closed             = driver.Closed
	Internal           = driver.Internal
)

// Error is the error type every portmq operation returns. Match it with
// errors.Is against the sentinels below, classify it with Code, and reach
// the driver's native error with errors.As or the As methods of Producer and
// Subscription.
type Error struct {
	// Code classifies the error.
	Code ErrorCode
	// Op names the operation, for example "mq.Producer.Send".
	Op string
	// Msg says what went wrong, without credentials.
	Msg string
	// Err is the cause: a driver's native error, a context error, or nil.
	Err error

	kind     uint8 // for sentinels that are narrower than their code
	sentinel bool
}

const (
	kindNone uint8 = iota
	kindSettled
	kindLeaseExpired
	kindPermanent
	kindClaimLost
)

func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	if e.Msg != "" {
		s += e.Msg
	} else if e.Err == nil {
		s += e.Code.String()
	}
	if e.Err != nil {
		if e.Msg != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) true for every error of code
// NotFound, and likewise for the other code sentinels; ErrUnsupported
// errors also match errors.ErrUnsupported.
func (e *Error) Is(target error) bool {
	if target == errors.ErrUnsupported {
		return e.Code == Unsupported
	}
	t, ok := target.(*Error)
	if !ok || !t.sentinel {
		return false
	}
	if t.kind != kindNone {
		return e.kind == t.kind
	}
	return e.Code == t.Code
}

func sentinel(code ErrorCode, msg string) *Error {
	return &Error{Code: code, Msg: msg, sentinel: true}
}

// Sentinels for errors.Is. Each matches every error of its code, except the
// narrower ErrSettled, ErrLeaseExpired and ErrClaimLost (all
// FailedPrecondition).
var (
	ErrNotFound           = sentinel(NotFound, "not found")
	ErrAlreadyExists      = sentinel(AlreadyExists, "already exists")
	ErrInvalidArgument    = sentinel(InvalidArgument, "invalid argument")
	ErrFailedPrecondition = sentinel(FailedPrecondition, "failed precondition")
	ErrPermissionDenied   = sentinel(PermissionDenied, "permission denied")
	ErrUnauthenticated    = sentinel(Unauthenticated, "unauthenticated")
	ErrUnavailable        = sentinel(Unavailable, "unavailable")
	ErrResourceExhausted  = sentinel(ResourceExhausted, "resource exhausted")
	ErrUnsupported        = sentinel(Unsupported, "unsupported")
	ErrClosed             = sentinel(Closed, "shut down")
	// ErrSettled: Ack, Nack, DeadLetter or Extend on a delivery that was
	// already acked, nacked or dead-lettered.
	ErrSettled = &Error{Code: FailedPrecondition, Msg: "delivery already settled", kind: kindSettled, sentinel: true}
	// ErrLeaseExpired: the delivery's lease ended before it was settled;
	// the message will be (or was) delivered again.
	ErrLeaseExpired = &Error{Code: FailedPrecondition, Msg: "lease expired", kind: kindLeaseExpired, sentinel: true}
	// ErrClaimLost: an IdempotencyStore's Complete or Release with a claim
	// whose time ran out and that another holder may have taken since
	// (the fencing token no longer matches).
	ErrClaimLost = &Error{Code: FailedPrecondition, Msg: "idempotency claim lost", kind: kindClaimLost, sentinel: true}
)

// Code returns the ErrorCode of err: OK for nil, the code of a *Error in
// its chain, Canceled or DeadlineExceeded for context errors, and Unknown
// otherwise.
func Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	if c := ctxCode(err, Unknown); c != Unknown {
		return c
	}
	if c, ok := driver.NetworkCode(err); ok {
		return c // a raw native error: a lost or refused connection, say
	}
	return Unknown
}

func ctxCode(err error, def ErrorCode) ErrorCode {
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, errors.ErrUnsupported):
		return Unsupported
	case errors.Is(err, driver.ErrInvalidURL):
		return InvalidArgument
	}
	if c := driver.CodeOf(err); c != Unknown {
		return c
	}
	return def
}

// IsRetryable reports whether the operation that returned err may succeed
// if tried again unchanged: Unavailable, ResourceExhausted and
// DeadlineExceeded errors.
func IsRetryable(err error) bool {
	switch Code(err) {
	case Unavailable, ResourceExhausted, DeadlineExceeded:
		return true
	}
	return false
}

// newError builds an *Error.
func newError(code ErrorCode, op, msg string, cause error) *Error {
	return &Error{Code: code, Op: op, Msg: msg, Err: cause}
}

// wrapDriver wraps a driver error, classifying it with the driver's
// ErrorCode (falling back to context and driver.Error codes).
func wrapDriver(c driver.Common, op string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	// ctxCode covers context errors, errors.ErrUnsupported, ErrInvalidURL
	// and *driver.Error; the driver classifies its native errors.
	code := ctxCode(err, Unknown)
	if code == Unknown && c != nil {
		code = c.ErrorCode(err)
	}
	e := &Error{Code: code, Op: op, Err: err}
	if code == FailedPrecondition {
		// Drivers report unknown or expired ack IDs this way.
		if de, ok := errors.AsType[*driver.Error](err); ok && de.Msg == driver.MsgLeaseExpired {
			e.kind = kindLeaseExpired
		}
	}
	return e
}
