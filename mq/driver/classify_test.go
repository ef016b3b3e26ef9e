package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// nativeErr stands for a client library's error; fallbackErr for one only
// a driver's catch-all knows.
type nativeErr struct{ err error }

func (e nativeErr) Error() string { return "native" }
func (e nativeErr) Unwrap() error { return e.err }

var errFallback = errors.New("safe to retry")

var testClassifier = Classifier{
	Native: func(err error) (ErrorCode, bool) {
		if _, ok := errors.AsType[nativeErr](err); ok {
			return ResourceExhausted, true
		}
		return Unknown, false
	},
	Fallback: func(err error) (ErrorCode, bool) {
		return Unavailable, errors.Is(err, errFallback)
	},
}

func TestClassifierAsksInOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want ErrorCode
	}{
		{"nil", nil, OK},
		{"a coded error", NewError(NotFound, "x"), NotFound},
		{"a coded error wins over native", &Error{Code: Closed, Err: nativeErr{}}, Closed},
		{"an Unknown coded error goes on", &Error{Code: Unknown, Err: nativeErr{}}, ResourceExhausted},
		{"an invalid URL", fmt.Errorf("d: %w: x", ErrInvalidURL), InvalidArgument},
		{"unsupported", fmt.Errorf("d: %w", errors.ErrUnsupported), Unsupported},
		{"native", nativeErr{}, ResourceExhausted},
		{"native wins over the network", nativeErr{io.EOF}, ResourceExhausted},
		{"native wins over a context", nativeErr{context.Canceled}, ResourceExhausted},
		{"a context", fmt.Errorf("x: %w", context.Canceled), Canceled},
		{"a deadline", context.DeadlineExceeded, DeadlineExceeded},
		{"the network", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), Unavailable},
		{"the network wins over the fallback", errors.Join(errFallback, context.Canceled), Canceled},
		{"fallback", fmt.Errorf("x: %w", errFallback), Unavailable},
		{"nothing knows it", errors.New("?"), Unknown},
	} {
		if got := testClassifier.Code(c.err); got != c.want {
			t.Errorf("%s: Code(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if got := (Classifier{}).Code(nativeErr{io.EOF}); got != Unavailable {
		t.Errorf("a zero Classifier: Code = %v, want the network's Unavailable", got)
	}
}

func TestClassifierCodedWrapsOnlyWhatMqCannotRead(t *testing.T) {
	for _, c := range []struct {
		name    string
		err     error
		wrapped bool // else returned unchanged
	}{
		{"nil", nil, false},
		{"already coded", NewError(NotFound, "x"), false},
		{"unknown", errors.New("?"), false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"native", nativeErr{}, true},
		{"network", io.EOF, true},
	} {
		got := testClassifier.Coded(c.err, "drv")
		de, isErr := got.(*Error)
		switch {
		case !c.wrapped && got != c.err:
			t.Errorf("%s: Coded(%v) = %v, want it unchanged", c.name, c.err, got)
		case c.wrapped && (!isErr || de.Code != testClassifier.Code(c.err) || de.Msg != "drv" || !errors.Is(got, c.err)):
			t.Errorf("%s: Coded(%v) = %#v, want a *Error with its code, message drv, wrapping it", c.name, c.err, got)
		}
	}
}
