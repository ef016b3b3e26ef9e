package driver

import (
	"errors"
	"strconv"
	"strings"
)

// ErrorCode classifies errors. mq re-exports it as mq.ErrorCode.
type ErrorCode int

const (
	OK ErrorCode = iota
	// Unknown: not classified; treat as not retryable.
	Unknown
	// NotFound: the topic, subscription or message does not exist.
	NotFound
	// AlreadyExists: the resource exists already.
	AlreadyExists
	// InvalidArgument: bad input (URL, option, message); fix the call.
	InvalidArgument
	// FailedPrecondition: the operation does not fit the current state, for
	// example acking a delivery that was already settled or whose lease
	// ended, or a resource that exists with other settings.
	FailedPrecondition
	// PermissionDenied: credentials lack the right.
	PermissionDenied
	// Unauthenticated: credentials missing or wrong.
	Unauthenticated
	// Unavailable: the broker cannot be reached now; retryable.
	Unavailable
	// ResourceExhausted: a quota or limit was hit; retryable later.
	ResourceExhausted
	// DeadlineExceeded: the context's deadline passed.
	DeadlineExceeded
	// Canceled: the context was canceled.
	Canceled
	// Unsupported: the backend cannot do this (matches errors.ErrUnsupported).
	Unsupported
	// Closed: the object was shut down.
	Closed
	// Internal: a bug or a broken invariant in the driver or broker.
	Internal
)

var codeNames = [...]string{
	OK: "OK", Unknown: "Unknown", NotFound: "NotFound", AlreadyExists: "AlreadyExists",
	InvalidArgument: "InvalidArgument", FailedPrecondition: "FailedPrecondition",
	PermissionDenied: "PermissionDenied", Unauthenticated: "Unauthenticated",
	Unavailable: "Unavailable", ResourceExhausted: "ResourceExhausted",
	DeadlineExceeded: "DeadlineExceeded", Canceled: "Canceled", Unsupported: "Unsupported",
	Closed: "Closed", Internal: "Internal",
}

func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// ErrInvalidURL may be wrapped by an Opener's error for a malformed URL or
// an unknown or invalid query parameter; mq classifies it InvalidArgument.
var ErrInvalidURL = errors.New("invalid URL")

// Error is a driver error that carries its own code. Drivers may return it
// (or wrap it) for conditions that have no native error, for example an
// unknown AckID. ErrorCode implementations should check for it with
// errors.As first.
type Error struct {
	Code ErrorCode
	Msg  string
	Err  error // optional cause
}

// NewError returns an *Error with code and message.
func NewError(code ErrorCode, msg string) *Error { return &Error{Code: code, Msg: msg} }

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the code of the first *Error in err's chain, or Unknown.
func CodeOf(err error) ErrorCode {
	if err == nil {
		return OK
	}
	if de, ok := errors.AsType[*Error](err); ok {
		return de.Code
	}
	return Unknown
}

// BatchError reports a partial failure of a batch call: Errs[i] is the
// error of item i, nil for items that succeeded. len(Errs) equals the batch
// length.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string {
	n := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(len(e.Errs)))
	b.WriteString(" items failed")
	if first != nil {
		b.WriteString("; first: ")
		b.WriteString(first.Error())
	}
	return b.String()
}

// Unwrap returns the item errors, so errors.Is and errors.As see them.
func (e *BatchError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// BatchResult turns the per-item errors of a batch call into its result,
// the one shape every driver returns: nil when every item succeeded (errs
// may be nil), the lone item's error for a batch of one, the error itself
// when every item failed with the same one (a failed request), else a
// *BatchError holding errs.
func BatchResult(errs []error) error {
	var first error
	same := true
	for _, err := range errs {
		switch {
		case err == nil:
			same = false
		case first == nil:
			first = err
		case err != first:
			same = false
		}
	}
	switch {
	case first == nil:
		return nil
	case same || len(errs) == 1:
		return first
	}
	return &BatchError{Errs: errs}
}

// SetItemError records err as the error of item i of an n-item batch in
// errs, which it makes on the first error (so that a batch where all
// succeed allocates nothing), and returns errs; BatchResult(errs) is then
// the call's result. A nil err records nothing. Goroutines filling one
// batch's errors at once make errs first and set errs[i] themselves.
func SetItemError(errs []error, n, i int, err error) []error {
	if err == nil {
		return errs
	}
	if errs == nil {
		errs = make([]error, n)
	}
	errs[i] = err
	return errs
}

// SubBatchResult is the result, for an n-item batch, of a call made for
// its items at[0], at[1], ... only, whose result was err: nil when err is
// nil, else a *BatchError with err's item errors (ItemError) in their
// places (nil for the items not in at).
func SubBatchResult(n int, at []int, err error) error {
	if err == nil {
		return nil
	}
	errs := make([]error, n)
	for j, i := range at {
		errs[i] = ItemError(err, j)
	}
	return BatchResult(errs)
}

// ItemError returns the error of item i of a batch call's result err: the
// item's own error for a *BatchError, else err itself.
func ItemError(err error, i int) error {
	if err == nil {
		return nil
	}
	if be, ok := err.(*BatchError); ok {
		if i < len(be.Errs) {
			return be.Errs[i]
		}
		return nil
	}
	return err
}

// MsgLeaseExpired is the Msg of a FailedPrecondition *Error a driver returns
// for an AckID whose lease ended or that it does not know; mq maps it to
// mq.ErrLeaseExpired.
const MsgLeaseExpired = "lease expired or unknown delivery"

// ErrLeaseExpired returns the error drivers use for a stale AckID.
func ErrLeaseExpired() *Error { return &Error{Code: FailedPrecondition, Msg: MsgLeaseExpired} }
