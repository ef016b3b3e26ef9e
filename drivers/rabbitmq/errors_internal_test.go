package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want driver.ErrorCode
	}{
		{nil, driver.OK},
		{&amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED - queue name 'amq.x' contains reserved prefix 'amq.*'"}, driver.PermissionDenied},
		{&amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"}, driver.Unauthenticated},
		{amqp.ErrCredentials, driver.Unauthenticated},
		{&amqp.Error{Code: amqp.NotFound, Reason: "NOT_FOUND - no queue 'q' in vhost '/'"}, driver.NotFound},
		{&amqp.Error{Code: amqp.NotAllowed, Reason: "NOT_ALLOWED - vhost nope not found"}, driver.NotFound},
		{&amqp.Error{Code: amqp.NotAllowed, Reason: "NOT_ALLOWED - access to vhost 'x' refused for user 'u'"}, driver.PermissionDenied},
		{&amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - inequivalent arg"}, driver.FailedPrecondition},
		{&amqp.Error{Code: amqp.ResourceLocked}, driver.FailedPrecondition},
		{&amqp.Error{Code: amqp.ConnectionForced, Reason: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"}, driver.Unavailable},
		{amqp.ErrClosed, driver.Unavailable},
		{fmt.Errorf("wrapped: %w", amqp.ErrClosed), driver.Unavailable},
		{&amqp.Error{Code: amqp.ResourceError}, driver.ResourceExhausted},
		{&amqp.Error{Code: amqp.NotImplemented}, driver.Unsupported},
		{&amqp.Error{Code: amqp.ContentTooLarge}, driver.InvalidArgument},
		{&amqp.Error{Code: amqp.InternalError}, driver.Internal},
		{&amqp.Error{Code: amqp.FrameError}, driver.Internal},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, driver.Unavailable},
		{syscall.ECONNRESET, driver.Unavailable},
		{io.EOF, driver.Unavailable},
		{context.Canceled, driver.Canceled},
		{context.DeadlineExceeded, driver.DeadlineExceeded},
		{leaseLost(), driver.FailedPrecondition},
		{errClosed, driver.Closed},
		{errors.New("something else"), driver.Unknown},
	}
	for _, c := range cases {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestPreconditionFailedNamesTheSetting(t *testing.T) {
	for arg, setting := range map[string]string{
		"x-delivery-limit":         "max_attempts",
		"x-dead-letter-exchange":   "dead_letter",
		"x-single-active-consumer": "ordered",
		"x-queue-type":             "queue type",
		"type":                     "exchange type",
		"x-something-new":          "argument x-something-new",
	} {
		kind := "queue"
		if arg == "type" {
			kind = "exchange"
		}
		native := &amqp.Error{Code: amqp.PreconditionFailed, Reason: "PRECONDITION_FAILED - inequivalent arg '" + arg + "' for " + kind + " 'orders.pay' in vhost '/': received '4' but current is '2'"}
		err := declareError("subscription", native)
		if driver.CodeOf(err) != driver.FailedPrecondition || !strings.Contains(err.Error(), setting) || !strings.Contains(err.Error(), "orders.pay") {
			t.Errorf("%s: %v", arg, err)
		}
		var ae *amqp.Error
		if !errorAs(err, &ae) || ae != native {
			t.Errorf("%s: native error not reachable with ErrorAs", arg)
		}
	}
	other := &amqp.Error{Code: amqp.NotFound}
	if declareError("x", other) != other {
		t.Error("declareError changed a non-precondition error")
	}
	if declareError("x", nil) != nil {
		t.Error("declareError(nil) != nil")
	}
}

func TestRedactedErrorHidesPasswordInEveryForm(t *testing.T) {
	const pw = "p@ss w/rd"
	err := &redactedError{err: fmt.Errorf("dial amqp://u:%s@h and amqp://u:%s@h failed: %w", pw, escapeUserinfo(pw), io.EOF), secret: pw}
	if s := err.Error(); strings.Contains(s, pw) || strings.Contains(s, escapeUserinfo(pw)) || !strings.Contains(s, "xxxxx") {
		t.Errorf("redacted error = %q", s)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("redactedError does not unwrap")
	}
	if escapeUserinfo(pw) != "p%40ss%20w%2Frd" {
		t.Errorf("escapeUserinfo = %q", escapeUserinfo(pw))
	}
}

func TestErrorAsRejectsForeignTargets(t *testing.T) {
	err := fmt.Errorf("x: %w", &amqp.Error{Code: amqp.NotFound})
	var s string
	if errorAs(err, &s) || errorAs(err, nil) {
		t.Error("errorAs accepted a target that is not a native error type")
	}
	var ne net.Error
	if errorAs(err, &ne) {
		t.Error("errorAs found a net.Error in an AMQP error")
	}
}
