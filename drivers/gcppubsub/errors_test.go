package gcppubsub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/support/bundler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func TestErrorCodeClassifies(t *testing.T) {
	grpcErr := func(c codes.Code) error { return fmt.Errorf("wrapped: %w", status.Error(c, "x")) }
	cases := []struct {
		err  error
		want driver.ErrorCode
	}{
		{nil, driver.OK},
		{errors.New("plain"), driver.Unknown},
		{grpcErr(codes.NotFound), driver.NotFound},
		{grpcErr(codes.AlreadyExists), driver.AlreadyExists},
		{grpcErr(codes.InvalidArgument), driver.InvalidArgument},
		{grpcErr(codes.OutOfRange), driver.InvalidArgument},
		{grpcErr(codes.FailedPrecondition), driver.FailedPrecondition},
		{grpcErr(codes.PermissionDenied), driver.PermissionDenied},
		{grpcErr(codes.Unauthenticated), driver.Unauthenticated},
		{grpcErr(codes.Unavailable), driver.Unavailable},
		{grpcErr(codes.Aborted), driver.Unavailable},
		{grpcErr(codes.ResourceExhausted), driver.ResourceExhausted},
		{grpcErr(codes.DeadlineExceeded), driver.DeadlineExceeded},
		{grpcErr(codes.Canceled), driver.Canceled},
		{grpcErr(codes.Unimplemented), driver.Unsupported},
		{grpcErr(codes.Internal), driver.Internal},
		{grpcErr(codes.DataLoss), driver.Internal},
		{grpcErr(codes.Unknown), driver.Unknown},
		{pubsub.ErrPublisherStopped, driver.Closed},
		{fmt.Errorf("x: %w", bundler.ErrOversizedItem), driver.InvalidArgument},
		{pubsub.ErrPublishingPaused{OrderingKey: "k"}, driver.Unavailable},
		{driver.ErrLeaseExpired(), driver.FailedPrecondition},
		{urlError("bad"), driver.InvalidArgument},
	}
	for _, c := range cases {
		if got := errorCode(c.err); got != c.want {
			t.Errorf("errorCode(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestNativeErrorsAreReachable opens a missing subscription on pstest and
// reaches the client's error through mq's ErrorAs paths.
func TestNativeErrorsAreReachable(t *testing.T) {
	f := newFake(t)
	_, err := f.mux.OpenSubscription(f.ctx(), "gcppubsub://"+testProject+"/missing")
	if !errors.Is(err, mq.ErrNotFound) {
		t.Fatalf("open missing subscription: %v, want ErrNotFound", err)
	}
	var st *status.Status
	if !errorAs(err, &st) || st.Code() != codes.NotFound {
		t.Errorf("errorAs(**status.Status) = %v", st)
	}
	var ae *apierror.APIError
	if !errorAs(err, &ae) || ae.GRPCStatus().Code() != codes.NotFound {
		t.Errorf("errorAs(**apierror.APIError) = %v", ae)
	}
	if !errors.As(err, &ae) {
		t.Errorf("errors.As does not reach the *apierror.APIError of %v", err)
	}
	// Targets errors.As would panic on report false.
	var notPtr apierror.APIError
	for _, target := range []any{nil, 42, notPtr, (**status.Status)(nil), new(int)} {
		if errorAs(err, target) {
			t.Errorf("errorAs(%T) reported true", target)
		}
	}
	if errorAs(nil, &st) || errorAs(errors.New("no status"), &st) {
		t.Errorf("errorAs found a status where there is none")
	}
}

// lossTopic is a topic whose every send fails with err, classified by this
// driver: it shows what mq makes of a native error.
type lossTopic struct{ err error }

func (t lossTopic) SendBatch(context.Context, []driver.Message) error { return t.err }
func (lossTopic) Capabilities() driver.Capabilities                   { return driver.Capabilities{} }
func (lossTopic) As(any) bool                                         { return false }
func (lossTopic) ErrorAs(err error, i any) bool                       { return errorAs(err, i) }
func (lossTopic) ErrorCode(err error) driver.ErrorCode                { return errorCode(err) }
func (lossTopic) Close() error                                        { return nil }

// grpcTransportErrors returns what a gRPC call to Pub/Sub really returns
// when the server refuses connections, resets them, or never answers
// within the call's deadline.
func grpcTransportErrors(t *testing.T) (lost map[string]error, timedOut error) {
	t.Helper()
	call := func(addr string, d time.Duration) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err = pubsubpb.NewPublisherClient(conn).GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: "projects/p/topics/t"})
		if err == nil {
			t.Fatalf("GetTopic at %s succeeded", addr)
		}
		return err
	}
	listen := func(handle func(net.Conn)) (string, func()) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c)
				handle(c)
			}
		}()
		return ln.Addr().String(), func() {
			ln.Close()
			<-done
			for _, c := range conns {
				c.Close()
			}
		}
	}
	lost = map[string]error{}
	addr, stop := listen(func(net.Conn) {})
	stop() // nothing listens there now
	lost["refused connection"] = call(addr, 10*time.Second)
	addr, stop = listen(func(c net.Conn) {
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	})
	lost["reset connection"] = call(addr, 10*time.Second)
	stop()
	addr, stop = listen(func(net.Conn) {}) // accepts, never speaks
	timedOut = call(addr, 200*time.Millisecond)
	stop()
	return lost, timedOut
}

// TestConnectionLossIsUnavailable lists what the Pub/Sub client returns
// when the server is cut, refuses connections or times out: gRPC statuses
// Unavailable (the transport's "connection error"), also inside the
// client's *apierror.APIError, and the network errors it may pass through;
// both as gRPC really returns them and as built here. Each must be
// Unavailable and retryable through mq. A transport deadline
// (codes.DeadlineExceeded) is DeadlineExceeded, retryable too.
func TestConnectionLossIsUnavailable(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`)
	api, _ := apierror.FromError(unavailable)
	cases := map[string]error{
		"status Unavailable":          unavailable,
		"APIError Unavailable":        api,
		"wrapped status Unavailable":  fmt.Errorf("gcppubsub: publish: %w", unavailable),
		"EOF passed through":          io.EOF,
		"reset passed through":        &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)},
		"refused dial passed through": &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
	}
	lost, timedOut := grpcTransportErrors(t)
	for name, err := range lost {
		cases["gRPC: "+name] = err
	}
	for name, native := range cases {
		t.Run(name, func(t *testing.T) {
			if got := errorCode(native); got != driver.Unavailable {
				t.Errorf("errorCode(%v) = %v, want Unavailable", native, got)
			}
			err := sendThroughMQ(t, native)
			if mq.Code(err) != mq.Unavailable || !mq.IsRetryable(err) || !errors.Is(err, native) {
				t.Errorf("Send failing with %v: %v (code %v, retryable %v), want Unavailable, retryable, wrapping the native error", native, err, mq.Code(err), mq.IsRetryable(err))
			}
		})
	}
	for name, native := range map[string]error{"gRPC: no answer within the deadline": timedOut, "status DeadlineExceeded": status.Error(codes.DeadlineExceeded, "x")} {
		if got := errorCode(native); got != driver.DeadlineExceeded {
			t.Errorf("%s: errorCode(%v) = %v, want DeadlineExceeded", name, native, got)
		}
		if err := sendThroughMQ(t, native); !mq.IsRetryable(err) {
			t.Errorf("%s: Send failing with %v: %v is not retryable", name, native, err)
		}
	}
}

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
