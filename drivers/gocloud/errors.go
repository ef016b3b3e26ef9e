package gocloud

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/gcerrors"

	"github.com/portmq/portmq/mq/driver"
)

// codeFromCDK maps the Go CDK's error codes to portmq's.
var codeFromCDK = map[gcerrors.ErrorCode]driver.ErrorCode{
	gcerrors.OK:                 driver.OK,
	gcerrors.Unknown:            driver.Unknown,
	gcerrors.NotFound:           driver.NotFound,
	gcerrors.AlreadyExists:      driver.AlreadyExists,
	gcerrors.InvalidArgument:    driver.InvalidArgument,
	gcerrors.Internal:           driver.Internal,
	gcerrors.Unimplemented:      driver.Unsupported,
	gcerrors.FailedPrecondition: driver.FailedPrecondition,
	gcerrors.PermissionDenied:   driver.PermissionDenied,
	gcerrors.ResourceExhausted:  driver.ResourceExhausted,
	gcerrors.Canceled:           driver.Canceled,
	gcerrors.DeadlineExceeded:   driver.DeadlineExceeded,
}

// classifier is the driver's error chain. Go CDK codes map one to one
// (Unimplemented becomes Unsupported), except that a broken connection,
// which the Go CDK reports as FailedPrecondition (a closed AMQP channel)
// or Unknown (a network error), is Unavailable: it is retryable, and the
// driver reconnects on the next call. So AMQP errors come before the
// network's, and the Go CDK's codes after.
var classifier = driver.Classifier{
	Native: amqpCode,
	Fallback: func(err error) (driver.ErrorCode, bool) {
		c, ok := codeFromCDK[gcerrors.Code(err)]
		return c, ok
	},
}

// errorCode classifies an error of a Go CDK call (see classifier).
func errorCode(err error) driver.ErrorCode { return classifier.Code(err) }

// amqpCode classifies AMQP errors by their reply code.
func amqpCode(err error) (driver.ErrorCode, bool) {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return 0, false
	}
	switch ae.Code {
	case amqp.ConnectionForced, amqp.ChannelError, amqp.FrameError, amqp.InternalError:
		// The connection or channel is gone (a broker restart, a closed
		// connection): the next call reconnects.
		return driver.Unavailable, true
	case amqp.ResourceError:
		return driver.ResourceExhausted, true
	case amqp.AccessRefused:
		return driver.PermissionDenied, true
	case amqp.NotFound:
		return driver.NotFound, true
	case amqp.PreconditionFailed:
		return driver.FailedPrecondition, true
	case amqp.ContentTooLarge:
		return driver.InvalidArgument, true
	case amqp.NotImplemented:
		return driver.Unsupported, true
	}
	return 0, false
}

// rabbitDialCode classifies an error of amqp.Dial(rawURL).
func rabbitDialCode(err error, rawURL string) driver.ErrorCode {
	switch {
	case errors.Is(err, amqp.ErrCredentials), errors.Is(err, amqp.ErrSASL):
		return driver.Unauthenticated
	case errors.Is(err, amqp.ErrVhost):
		return driver.PermissionDenied
	}
	if _, perr := amqp.ParseURI(rawURL); perr != nil {
		return driver.InvalidArgument
	}
	return driver.Unavailable
}

// openErr wraps an error of a Go CDK URL opener. The openers this package
// calls fail at open for bad URLs (mq classifies an unclassified open error
// as InvalidArgument); a classified error keeps its code.
func openErr(err error) error {
	if err == nil {
		return nil
	}
	if c := errorCode(err); c != driver.Unknown {
		return &driver.Error{Code: c, Msg: "gocloud: open", Err: err}
	}
	return &driver.Error{Code: driver.InvalidArgument, Msg: "gocloud: open", Err: err}
}

// errorAs converts err with the Go CDK object's ErrorAs (which reaches the
// Go CDK driver's native errors, such as *amqp.Error), else with errors.As.
// It reports false instead of panicking for a target that is not a non-nil
// pointer.
func errorAs(err error, i any, cdk func(error, any) bool) bool {
	if err == nil || !validTarget(i) {
		return false
	}
	if cdk != nil && cdk(err, i) {
		return true
	}
	t := reflect.TypeOf(i).Elem()
	if t.Kind() != reflect.Interface && !t.Implements(errorType) {
		return false
	}
	return errors.As(err, i)
}

var errorType = reflect.TypeFor[error]()

// asWith fills a **T target with cur, and passes other targets to as (the
// As of cur). It reports false when there is no cur.
func asWith[T any](i any, cur *T, as func(any) bool) bool {
	if cur == nil || !validTarget(i) {
		return false
	}
	if p, ok := i.(**T); ok {
		*p = cur
		return true
	}
	return as(i)
}

func validTarget(i any) bool {
	if i == nil {
		return false
	}
	v := reflect.ValueOf(i)
	return v.Kind() == reflect.Pointer && !v.IsNil()
}

// redacted returns err with the password of rawURL removed from its text
// (driver.Redacted); errors.As still reaches err.
func redacted(err error, rawURL string) error {
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return driver.Redacted(err, p)
		}
	}
	return err
}

// redactURL returns rawURL without its password.
func redactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return strconv.Quote(u.Redacted())
	}
	return "(not a URL)"
}
