package driver

import "errors"

// Classifier is the one classification chain of a driver's errors: a
// driver supplies only the mapping of its client library's errors, and
// implements Common.ErrorCode with Code.
type Classifier struct {
	// Native classifies the client library's own errors (its sentinels,
	// error types and server replies), reporting false for an error it
	// does not know. It is asked before the network's errors, so that a
	// native error that wraps a network error (or a context's error)
	// keeps its native code. Nil means none.
	Native func(error) (ErrorCode, bool)
	// Fallback classifies what neither Native nor NetworkCode knew, for
	// example a client's catch-all "safe to retry" predicate; false
	// means Unknown. Nil means none.
	Fallback func(error) (ErrorCode, bool)
}

// Code returns err's code, asking in this order:
//
//   - nil is OK;
//   - the code of a *Error in err's chain (CodeOf), unless Unknown;
//   - ErrInvalidURL is InvalidArgument and errors.ErrUnsupported is
//     Unsupported (as mq classifies them);
//   - c.Native;
//   - NetworkCode: a context's errors, then a lost connection;
//   - c.Fallback;
//   - else Unknown.
func (c Classifier) Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	if code := CodeOf(err); code != Unknown {
		return code
	}
	switch {
	case errors.Is(err, ErrInvalidURL):
		return InvalidArgument
	case errors.Is(err, errors.ErrUnsupported):
		return Unsupported
	}
	if c.Native != nil {
		if code, ok := c.Native(err); ok {
			return code
		}
	}
	if code, ok := NetworkCode(err); ok {
		return code
	}
	if c.Fallback != nil {
		if code, ok := c.Fallback(err); ok {
			return code
		}
	}
	return Unknown
}

// Coded gives err its code as a *Error with message msg (the driver's
// name), for an error that reaches mq where no handle can classify it
// (an Opener's): mq classifies those by *Error codes only. It returns err
// unchanged when err is nil, already carries a code, or classifies as
// Unknown, Canceled or DeadlineExceeded (which mq reads from the chain
// itself). The native error stays reachable with errors.As.
func (c Classifier) Coded(err error, msg string) error {
	if err == nil || CodeOf(err) != Unknown {
		return err
	}
	switch code := c.Code(err); code {
	case Unknown, Canceled, DeadlineExceeded:
		return err
	default:
		return &Error{Code: code, Msg: msg, Err: err}
	}
}
