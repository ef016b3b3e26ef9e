package rabbitmq

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

func optionError(msg string) error {
	return &driver.Error{Code: driver.InvalidArgument, Msg: "rabbitmq: " + msg}
}

// errClosed is returned by calls on a handle after Close.
var errClosed = &driver.Error{Code: driver.Closed, Msg: "rabbitmq: handle is closed"}

// errChannelLost is the cause of the error for settling a delivery whose
// channel is gone: the broker has already put the message back.
var errChannelLost = errors.New("rabbitmq: the AMQP channel that received this delivery was closed (connection lost or broker restart); the broker delivers the message again")

// leaseLost returns the error for settling a delivery of a dead channel.
// It is a driver.ErrLeaseExpired (mq reports ErrLeaseExpired) with the
// reason.
func leaseLost() error {
	return &driver.Error{Code: driver.FailedPrecondition, Msg: driver.MsgLeaseExpired, Err: errChannelLost}
}

// unavailable wraps a connection-level failure.
func unavailable(msg string, cause error) error {
	return &driver.Error{Code: driver.Unavailable, Msg: "rabbitmq: " + msg, Err: cause}
}

// classifier is the driver's error chain: amqp091-go's errors after the
// driver's own, before the network's.
var classifier = driver.Classifier{Native: func(err error) (driver.ErrorCode, bool) {
	ae, ok := errors.AsType[*amqp.Error](err)
	if !ok {
		return driver.Unknown, false
	}
	return amqpCode(ae), true
}}

// classify returns the code of an error from this driver or amqp091-go.
func classify(err error) driver.ErrorCode { return classifier.Code(err) }

// amqpCode maps AMQP reply codes (and amqp091-go's own errors) to codes.
func amqpCode(e *amqp.Error) driver.ErrorCode {
	switch e.Code {
	case amqp.ContentTooLarge:
		return driver.InvalidArgument
	case amqp.NoRoute, amqp.NoConsumers, amqp.ResourceLocked, amqp.PreconditionFailed:
		return driver.FailedPrecondition
	case amqp.ConnectionForced, amqp.ChannelError:
		// ChannelError is also amqp.ErrClosed: the channel or connection
		// is gone; a new one may work.
		return driver.Unavailable
	case amqp.FrameError:
		// amqp091-go reports a connection that failed under it (EOF, a
		// reset, a failed write: a network cut) as a FRAME_ERROR of its
		// own (Server false) whose Reason is the network error's text.
		// A FRAME_ERROR the broker sent is a protocol error.
		if !e.Server {
			return driver.Unavailable
		}
		return driver.Internal
	case amqp.InvalidPath:
		return driver.InvalidArgument
	case amqp.AccessRefused:
		if e == amqp.ErrCredentials || e == amqp.ErrSASL || strings.Contains(e.Reason, "Login was refused") ||
			strings.Contains(e.Reason, "username or password") {
			return driver.Unauthenticated
		}
		return driver.PermissionDenied
	case amqp.NotFound:
		return driver.NotFound
	case amqp.NotAllowed:
		if strings.Contains(e.Reason, "not found") {
			return driver.NotFound // vhost not found
		}
		return driver.PermissionDenied
	case amqp.ResourceError:
		return driver.ResourceExhausted
	case amqp.NotImplemented:
		return driver.Unsupported
	case amqp.SyntaxError, amqp.CommandInvalid, amqp.UnexpectedFrame, amqp.InternalError:
		return driver.Internal
	}
	return driver.Unknown
}

// retryable reports whether a new connection or channel may cure err.
func retryable(err error) bool { return classify(err) == driver.Unavailable }

// errorAs implements driver.Common.ErrorAs: *amqp.Error and net.Error are
// the native error types.
func errorAs(err error, i any) bool {
	switch p := i.(type) {
	case **amqp.Error:
		return errors.As(err, p)
	}
	return driver.NetErrorAs(err, i)
}

// inequivalent matches the setting a PRECONDITION_FAILED re-declare names.
var inequivalent = regexp.MustCompile(`inequivalent arg '([^']+)' for (queue|exchange) '([^']*)'`)

// settingOf names the URL parameter behind a declare argument.
var settingOf = map[string]string{
	argDeliveryLimit:           "max_attempts",
	argDLX:                     "dead_letter (or max_attempts, which implies it)",
	argDLRK:                    "max_attempts",
	argDLStrategy:              "dead_letter (or max_attempts, which implies it)",
	amqp.QueueOverflowArg:      "dead_letter (or max_attempts, which implies it)",
	"x-single-active-consumer": "ordered",
	amqp.QueueTypeArg:          "queue type (portmq uses quorum queues)",
	"durable":                  "durability (portmq declares durable queues and exchanges)",
	"type":                     "exchange type (portmq topics are fanout exchanges)",
	amqp.QueueMessageTTLArg:    "message TTL",
	amqp.QueueTTLArg:           "queue expiry",
}

// declareError explains a failed declare: a PRECONDITION_FAILED names the
// setting that differs from the existing queue or exchange.
func declareError(what string, err error) error {
	if _, explained := err.(*driver.Error); explained {
		return err // a refused claim (topology.go)
	}
	ae, ok := errors.AsType[*amqp.Error](err)
	if !ok || ae.Code != amqp.PreconditionFailed {
		return err
	}
	m := inequivalent.FindStringSubmatch(ae.Reason)
	if m == nil {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: "rabbitmq: declaring " + what + " failed", Err: err}
	}
	setting := settingOf[m[1]]
	if setting == "" {
		setting = "argument " + m[1]
	}
	return &driver.Error{
		Code: driver.FailedPrecondition,
		Msg: "rabbitmq: " + m[2] + " " + strconv.Quote(m[3]) + " exists with a different " + setting +
			" (" + m[1] + "); open it with the settings it was created with, or delete it first",
		Err: err,
	}
}
