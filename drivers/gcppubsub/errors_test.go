package gcppubsub

import (
	"errors"
	"fmt"
	"testing"

	"cloud.google.com/go/pubsub/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/support/bundler"
	"google.golang.org/grpc/codes"
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
