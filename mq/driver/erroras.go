package driver

import (
	"errors"
	"reflect"
)

// ErrorAs is errors.As for a driver's ErrorAs whose backend's errors need
// no translation: it finds the first error in err's chain that target
// (a pointer to an error type or to an interface) can hold. Where
// errors.As would panic (a nil target, a non-pointer, a pointer to a type
// that is not an error) it reports false instead, as Common.ErrorAs must.
func ErrorAs(err error, target any) bool {
	if err == nil || target == nil {
		return false
	}
	p := reflect.ValueOf(target)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return false
	}
	if e := p.Type().Elem(); e.Kind() != reflect.Interface && !e.Implements(reflect.TypeFor[error]()) {
		return false
	}
	return errors.As(err, target)
}
