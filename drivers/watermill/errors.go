package watermill

import (
	"context"
	"errors"
	"reflect"

	"github.com/portmq/portmq/mq/driver"
)

// classify returns the code of an error of a Watermill call: a
// *driver.Error's code, the backend's ErrorCode, context errors, and
// connection loss (network errors, EOF) as Unavailable.
func classify(b Backend, err error) driver.ErrorCode {
	if err == nil {
		return driver.OK
	}
	if c := driver.CodeOf(err); c != driver.Unknown {
		return c
	}
	if b.ErrorCode != nil {
		if c := b.ErrorCode(err); c != driver.Unknown {
			return c
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return driver.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return driver.DeadlineExceeded
	}
	if c, ok := driver.NetworkCode(err); ok {
		return c
	}
	return driver.Unknown
}

// errorAs is driver.ErrorAs: errors.As that reports false, instead of
// panicking, when target is not a non-nil pointer to an interface or an
// error type.
func errorAs(err error, target any) bool { return driver.ErrorAs(err, target) }

// asValue sets *target to v when target is a non-nil pointer to a type v
// is assignable to.
func asValue(target, v any) bool {
	if target == nil || v == nil {
		return false
	}
	p := reflect.ValueOf(target)
	if p.Kind() != reflect.Pointer || p.IsNil() || !reflect.TypeOf(v).AssignableTo(p.Elem().Type()) {
		return false
	}
	p.Elem().Set(reflect.ValueOf(v))
	return true
}
