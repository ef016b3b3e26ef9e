package gocloud

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

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

// cdkOpenError returns a real error of a Go CDK URL opener.
func cdkOpenError(t *testing.T) error {
	t.Helper()
	// A mempubsub subscription on a topic that no URL opened fails.
	_, err := pubsub.OpenSubscription(context.Background(), "mem://never-opened-"+t.Name())
	if err == nil {
		t.Fatal("mempubsub opened a subscription on a topic never opened")
	}
	return err
}

func TestErrorCodeMapsGoCDKAndNativeErrors(t *testing.T) {
	// A real Go CDK error: Send on a topic that was shut down.
	top := mempubsub.NewTopic()
	if err := top.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	shut := top.Send(context.Background(), &pubsub.Message{})
	if gcerrors.Code(shut) != gcerrors.FailedPrecondition {
		t.Fatalf("the Go CDK's own code changed: %v", gcerrors.Code(shut))
	}
	for _, c := range []struct {
		name string
		err  error
		want driver.ErrorCode
	}{
		{"nil", nil, driver.OK},
		{"Go CDK FailedPrecondition", shut, driver.FailedPrecondition},
		{"driver.Error keeps its code", &driver.Error{Code: driver.Closed}, driver.Closed},
		{"context canceled", context.Canceled, driver.Canceled},
		{"closed AMQP connection", fmt.Errorf("send: %w", amqp.ErrClosed), driver.Unavailable},
		{"broker restart", &amqp.Error{Code: amqp.ConnectionForced}, driver.Unavailable},
		{"exchange missing", &amqp.Error{Code: amqp.NotFound}, driver.NotFound},
		{"access refused", &amqp.Error{Code: amqp.AccessRefused}, driver.PermissionDenied},
		{"unknown delivery tag", &amqp.Error{Code: amqp.PreconditionFailed}, driver.FailedPrecondition},
		{"resource error", &amqp.Error{Code: amqp.ResourceError}, driver.ResourceExhausted},
		{"too large", &amqp.Error{Code: amqp.ContentTooLarge}, driver.InvalidArgument},
		{"other AMQP code", &amqp.Error{Code: amqp.NoRoute}, driver.Unknown},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, driver.Unavailable},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), driver.Unavailable},
		{"EOF", io.ErrUnexpectedEOF, driver.Unavailable},
		{"plain", errors.New("x"), driver.Unknown},
	} {
		if got := errorCode(c.err); got != c.want {
			t.Errorf("%s: errorCode(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	// Every Go CDK code has a portmq code.
	for gc := gcerrors.OK; gc <= gcerrors.DeadlineExceeded; gc++ {
		if _, ok := codeFromCDK[gc]; !ok {
			t.Errorf("Go CDK code %v has no portmq code", gc)
		}
	}
	if got := openErr(cdkOpenError(t)); driver.CodeOf(got) != driver.InvalidArgument {
		t.Errorf("an unclassified open error has code %v, want InvalidArgument", driver.CodeOf(got))
	}
}

func TestErrorAsNeverPanics(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &amqp.Error{Code: amqp.NotFound, Reason: "no exchange"})
	var ae *amqp.Error
	if !errorAs(err, &ae, nil) || ae.Code != amqp.NotFound {
		t.Errorf("errorAs(**amqp.Error) = %v", ae)
	}
	for _, target := range []any{nil, ae, 3, (**amqp.Error)(nil), new(int)} {
		if errorAs(err, target, nil) {
			t.Errorf("errorAs(%T) = true", target)
		}
	}
	if errorAs(nil, &ae, nil) {
		t.Error("errorAs(nil error) = true")
	}
	// Through a real Go CDK object: its ErrorAs reaches the Go CDK driver.
	top := mempubsub.NewTopic()
	defer top.Shutdown(context.Background())
	if errorAs(err, 7, top.ErrorAs) {
		t.Error("errorAs with a non-pointer target through the Go CDK = true")
	}
}

func TestRedactedErrorHidesPassword(t *testing.T) {
	raw := "amqp://guest:s3cret@127.0.0.1:5672/"
	inner := errors.New("could not use amqp://guest:s3cret@127.0.0.1:5672/ at all")
	err := redacted(inner, raw)
	if strings.Contains(err.Error(), "s3cret") || !errors.Is(err, inner) {
		t.Errorf("redacted(...) = %q (unwraps to the original: %v)", err, errors.Is(err, inner))
	}
	if plain := errors.New("nothing secret"); redacted(plain, raw) != plain {
		t.Error("redacted wrapped an error without the password")
	}
}

func TestDialRabbitErrorsCarryNoPassword(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want driver.ErrorCode
	}{
		{"", driver.FailedPrecondition},
		{"http://guest:s3cret@127.0.0.1:1/", driver.InvalidArgument},
		{"amqp://guest:s3cret@127.0.0.1:1/", driver.Unavailable}, // nothing listens on port 1
	} {
		conn, err := dialRabbit(c.raw)
		if err == nil {
			conn.Close()
			t.Errorf("dialRabbit(%q) succeeded", c.raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("dialRabbit error %q contains the password", err)
		}
		if got := driver.CodeOf(err); got != c.want {
			t.Errorf("dialRabbit(%q) error %v has code %v, want %v", redactURL(c.raw), err, got, c.want)
		}
	}
}

// closedRabbitSendError is what the Go CDK's rabbitpubsub really returns
// for a Send over a connection that is gone.
func closedRabbitSendError(t *testing.T) error {
	t.Helper()
	conn, err := amqp.Dial(testenv.RabbitMQURL())
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	top := rabbitpubsub.OpenTopic(conn, "amq.fanout", nil)
	_ = conn.Close()
	err = top.Send(context.Background(), &pubsub.Message{Body: []byte("x")})
	_ = top.Shutdown(context.Background())
	if err == nil {
		t.Fatal("Send over a closed connection succeeded")
	}
	return err
}

// TestConnectionLossIsUnavailable lists what a Go CDK call returns when
// the network under it is cut, refuses connections or times out: the
// Go CDK passes its driver's native error through (for rabbitpubsub,
// amqp091-go's FRAME_ERROR of a cut connection, ErrClosed, CONNECTION_FORCED)
// or the network error itself, inside its own *gcerr.Error. Each must be
// Unavailable and retryable through mq.
func TestConnectionLossIsUnavailable(t *testing.T) {
	op := func(o string, err error) error { return &net.OpError{Op: o, Net: "tcp", Err: err} }
	cases := map[string]error{
		"AMQP reader EOF":              &amqp.Error{Code: amqp.FrameError, Reason: "EOF"},
		"AMQP reader reset":            &amqp.Error{Code: amqp.FrameError, Reason: "read tcp 127.0.0.1:1->127.0.0.1:5672: read: connection reset by peer"},
		"AMQP closed":                  amqp.ErrClosed,
		"AMQP broker shutdown":         &amqp.Error{Code: amqp.ConnectionForced, Server: true},
		"refused dial":                 op("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED)),
		"read reset":                   op("read", os.NewSyscallError("read", syscall.ECONNRESET)),
		"write broken pipe":            op("write", os.NewSyscallError("write", syscall.EPIPE)),
		"read timeout":                 op("read", os.ErrDeadlineExceeded),
		"EOF":                          io.EOF,
		"unexpected EOF":               io.ErrUnexpectedEOF,
		"rabbitpubsub send, conn gone": closedRabbitSendError(t),
	}
	for name, native := range cases {
		t.Run(name, func(t *testing.T) { testenv.CheckConnectionLoss(t, native, errorCode) })
	}
}
