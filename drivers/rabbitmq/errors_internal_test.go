package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq"
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
		{&amqp.Error{Code: amqp.FrameError, Server: true}, driver.Internal},
		{&amqp.Error{Code: amqp.FrameError, Reason: "EOF"}, driver.Unavailable},
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

// lossTopic is a topic whose every send fails with err, classified by this
// driver: it lets a test see what mq makes of a native error.
type lossTopic struct{ err error }

func (t lossTopic) SendBatch(context.Context, []driver.Message) error { return t.err }
func (lossTopic) Capabilities() driver.Capabilities                   { return capabilities(0) }
func (lossTopic) As(any) bool                                         { return false }
func (lossTopic) ErrorAs(err error, i any) bool                       { return errorAs(err, i) }
func (lossTopic) ErrorCode(err error) driver.ErrorCode                { return classify(err) }
func (lossTopic) Close() error                                        { return nil }

// sendThroughMQ returns what mq.Producer.Send reports for a send that fails
// with native (mq retries Unavailable errors until ctx ends).
func sendThroughMQ(t *testing.T, native error) error {
	t.Helper()
	p, err := mq.NewProducer(lossTopic{native})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	return p.Send(ctx, &mq.Message{Body: []byte("x")})
}

// TestConnectionLossIsUnavailable lists what amqp091-go returns when the
// connection is cut, refused or times out, built as amqp091-go builds
// them: its reader and writer turn any I/O error into a FRAME_ERROR of its
// own (connection.go: shutdown(&Error{Code: FrameError, Reason:
// err.Error()})), a call on a dead channel or connection returns ErrClosed,
// a write returns the raw *net.OpError, and a dial returns the dialer's
// error. Each must be Unavailable and retryable through mq. The FRAME_ERROR
// rows failed before the fix (they were Internal).
func TestConnectionLossIsUnavailable(t *testing.T) {
	readOp := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{}, Addr: &net.TCPAddr{}, Err: err}
	}
	cases := []struct {
		name string
		err  error
	}{
		{"EOF seen by the reader", &amqp.Error{Code: amqp.FrameError, Reason: io.EOF.Error()}},
		{"reset seen by the reader", &amqp.Error{Code: amqp.FrameError, Reason: readOp(os.NewSyscallError("read", syscall.ECONNRESET)).Error()}},
		{"heartbeat timeout seen by the reader", &amqp.Error{Code: amqp.FrameError, Reason: readOp(os.ErrDeadlineExceeded).Error()}},
		{"broken pipe seen by the writer", &amqp.Error{Code: amqp.FrameError, Reason: "write tcp: broken pipe"}},
		{"torn frame", amqp.ErrFrame},
		{"channel or connection not open", amqp.ErrClosed},
		{"broker shutdown", &amqp.Error{Code: amqp.ConnectionForced, Reason: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", Server: true}},
		{"channel error", &amqp.Error{Code: amqp.ChannelError, Reason: "CHANNEL_ERROR - expected 'channel.open'", Server: true}},
		{"write broken pipe", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}},
		{"write reset", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}},
		{"read reset", readOp(os.NewSyscallError("read", syscall.ECONNRESET))},
		{"read timeout", readOp(os.ErrDeadlineExceeded)},
		{"refused dial", unavailable("dial amqp://127.0.0.1:1/ failed", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})},
		{"refused dial, unwrapped", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}},
		{"unreachable host", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}},
		{"handshake EOF", io.EOF},
		{"handshake cut short", io.ErrUnexpectedEOF},
		{"use of a closed connection", readOp(net.ErrClosed)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.err); got != driver.Unavailable {
				t.Errorf("classify(%v) = %v, want Unavailable", c.err, got)
			}
			err := sendThroughMQ(t, c.err)
			if mq.Code(err) != mq.Unavailable || !mq.IsRetryable(err) {
				t.Errorf("Send failing with %v: %v (code %v, retryable %v), want Unavailable and retryable", c.err, err, mq.Code(err), mq.IsRetryable(err))
			}
			if !errors.Is(err, c.err) {
				t.Errorf("the native error is not reachable from %v", err)
			}
		})
	}
	// A FRAME_ERROR the broker sends is a protocol error, not a cut.
	if got := classify(&amqp.Error{Code: amqp.FrameError, Reason: "FRAME_ERROR - type 65, all octets = <<>>", Server: true}); got != driver.Internal {
		t.Errorf("a broker's FRAME_ERROR = %v, want Internal", got)
	}
}
