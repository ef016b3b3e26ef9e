package awsmq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

func TestErrorCode(t *testing.T) {
	resp := func(status int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: errors.New("x")}
	}
	cases := []struct {
		err  error
		want driver.ErrorCode
	}{
		{nil, driver.OK},
		{errors.New("something"), driver.Unknown},
		{driver.NewError(driver.Closed, "closed"), driver.Closed},
		{&sqstypes.QueueDoesNotExist{}, driver.NotFound},
		{&smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue"}, driver.NotFound},
		{&smithy.GenericAPIError{Code: "NotFound"}, driver.NotFound},
		{&sqstypes.QueueNameExists{}, driver.AlreadyExists},
		{&sqstypes.ReceiptHandleIsInvalid{}, driver.FailedPrecondition},
		{&smithy.GenericAPIError{Code: "InvalidParameterValue"}, driver.InvalidArgument},
		{&smithy.GenericAPIError{Code: "InvalidParameter"}, driver.InvalidArgument},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, driver.PermissionDenied},
		{&smithy.GenericAPIError{Code: "AuthorizationError"}, driver.PermissionDenied},
		{&smithy.GenericAPIError{Code: "InvalidClientTokenId"}, driver.Unauthenticated},
		{&smithy.GenericAPIError{Code: "RequestThrottled"}, driver.ResourceExhausted},
		{&smithy.GenericAPIError{Code: "Throttled"}, driver.ResourceExhausted},
		{&smithy.GenericAPIError{Code: "InternalError"}, driver.Unavailable},
		{&smithy.GenericAPIError{Code: "KmsDisabled"}, driver.FailedPrecondition},
		{&BatchEntryError{Code: "ReceiptHandleIsInvalid"}, driver.FailedPrecondition},
		{fmt.Errorf("wrapped: %w", &smithy.GenericAPIError{Code: "QueueDoesNotExist"}), driver.NotFound},
		{resp(503), driver.Unavailable},
		{resp(429), driver.ResourceExhausted},
		{resp(403), driver.PermissionDenied},
		{resp(404), driver.NotFound},
		{resp(400), driver.InvalidArgument},
		{&smithyhttp.RequestSendError{Err: errors.New("connection refused")}, driver.Unavailable},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, driver.Unavailable},
		{&url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}, driver.Unavailable},
	}
	for _, c := range cases {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestErrorAsNeverPanics(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &sqstypes.QueueDoesNotExist{Message: aws.String("gone")})
	var qdne *sqstypes.QueueDoesNotExist
	if !ErrorAs(err, &qdne) || qdne == nil {
		t.Errorf("ErrorAs did not reach *types.QueueDoesNotExist")
	}
	var api smithy.APIError
	if !ErrorAs(err, &api) || api.ErrorCode() != "QueueDoesNotExist" {
		t.Errorf("ErrorAs did not reach smithy.APIError")
	}
	var nilPtr *error
	for _, target := range []any{nil, 5, "x", nilPtr, &struct{}{}, qdne} {
		if ErrorAs(err, target) {
			t.Errorf("ErrorAs(err, %T) = true", target)
		}
	}
	if ErrorAs(nil, &api) {
		t.Errorf("ErrorAs(nil) = true")
	}
}

func TestURLParameters(t *testing.T) {
	const secret = "s3cret-password"
	bad := map[string]string{
		"unknown parameter":           "sqs://q?bogus=1",
		"repeated parameter":          "sqs://q?region=a&region=b",
		"bad region":                  "sqs://q?region=EU_WEST",
		"empty profile":               "sqs://q?profile=",
		"endpoint with user info":     "sqs://q?endpoint=" + url.QueryEscape("http://user:"+secret+"@host:1"),
		"endpoint not http":           "sqs://q?endpoint=ftp://host",
		"endpoint without host":       "sqs://q?endpoint=http://",
		"endpoint with query":         "sqs://q?endpoint=" + url.QueryEscape("http://h?x=1"),
		"malformed query":             "sqs://q?%zz",
		"duration out of range":       "sqs://q?wait=30s",
		"duration that is not one":    "sqs://q?wait=soon",
		"negative duration":           "sqs://q?wait=-1s",
		"user info in the URL itself": "sqs://user:" + secret + "@q",
	}
	for name, raw := range bad {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		err = CheckURL("sqs", u)
		if err == nil {
			var q Query
			if q, err = ParseQuery("sqs", u, append([]string{"wait"}, ConnParams...)); err == nil {
				if _, err = q.Params(); err == nil {
					_, err = q.Seconds("wait", 1e9, 20e9, 0)
				}
			}
		}
		switch {
		case err == nil:
			t.Errorf("%s: %s accepted", name, raw)
		case !errors.Is(err, driver.ErrInvalidURL):
			t.Errorf("%s: error %v does not wrap ErrInvalidURL", name, err)
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: error %q holds the password", name, err)
		}
	}
	u, _ := url.Parse("sqs://q?region=eu-west-1&endpoint=" + url.QueryEscape("http://127.0.0.1:5000") + "&profile=dev&wait=1500ms")
	q, err := ParseQuery("sqs", u, append([]string{"wait"}, ConnParams...))
	if err != nil {
		t.Fatal(err)
	}
	p, err := q.Params()
	if err != nil || p != (Params{Region: "eu-west-1", Endpoint: "http://127.0.0.1:5000", Profile: "dev"}) {
		t.Errorf("Params = %+v, %v", p, err)
	}
	if w, err := q.Seconds("wait", 1e9, 20e9, 0); err != nil || w != 2e9 {
		t.Errorf("wait=1500ms = %v, %v; want 2s (rounded up)", w, err)
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	if _, err := Load(ctx, "sqs", &aws.Config{}, Params{}); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("Load without a region = %v, want InvalidArgument", err)
	}
	own := &http.Client{}
	c, err := Load(ctx, "sqs", &aws.Config{Region: "x", HTTPClient: own}, Params{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Config.HTTPClient != own || c.Config.Region != "eu-west-1" || aws.ToString(c.Config.BaseEndpoint) != "http://127.0.0.1:1" {
		t.Errorf("Load with a base config: client kept %v, region %q, endpoint %q", c.Config.HTTPClient == own, c.Config.Region, aws.ToString(c.Config.BaseEndpoint))
	}
	c2, err := Load(ctx, "sqs", &aws.Config{Region: "x"}, Params{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Config.HTTPClient == nil || c2.tr == nil {
		t.Errorf("Load without an HTTP client did not give the handle its own")
	}
}

// sdkErrors returns what the AWS SDK really returns (after its retries)
// for a call to an endpoint that refuses connections, resets them, closes
// them before answering, or answers 503.
func sdkErrors(t *testing.T) map[string]error {
	t.Helper()
	call := func(endpoint string) error {
		c := awssqs.New(awssqs.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(endpoint),
			Credentials:  aws.AnonymousCredentials{},
			Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 2
				o.MaxBackoff = 10 * time.Millisecond
			}),
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c.ListQueues(ctx, &awssqs.ListQueuesInput{})
		if err == nil || ctx.Err() != nil {
			t.Fatalf("ListQueues at %s: %v (ctx %v)", endpoint, err, ctx.Err())
		}
		return err
	}
	out := map[string]error{}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	out["refused connection"] = call(refused)

	// A server that resets every connection, one that closes it without
	// an answer, and one that answers 503.
	for name, handle := range map[string]func(net.Conn){
		"reset connection": func(c net.Conn) {
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		},
		"connection closed before the answer": func(c net.Conn) {
			_, _ = c.Read(make([]byte, 4096))
			_ = c.Close()
		},
		"503 Service Unavailable": func(c net.Conn) {
			_, _ = c.Read(make([]byte, 4096))
			_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = c.Close()
		},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				handle(c)
			}
		}()
		out[name] = call("http://" + ln.Addr().String())
		ln.Close()
		<-done
	}
	return out
}

// TestConnectionLossIsUnavailable lists what the AWS SDK returns when SQS
// or SNS is cut, refuses connections or fails: a *smithy.OperationError
// around a retry.MaxAttemptsError around a *smithyhttp.RequestSendError
// around a *url.Error around the *net.OpError, or an
// *awshttp.ResponseError with a 5xx status; both as the SDK really
// returns them and as built here. Each must be Unavailable and retryable
// through mq.
func TestConnectionLossIsUnavailable(t *testing.T) {
	opErr := func(o string, err error) error { return &net.OpError{Op: o, Net: "tcp", Err: err} }
	sendErr := func(err error) error {
		return &smithy.OperationError{ServiceID: "SQS", OperationName: "SendMessageBatch", Err: &retry.MaxAttemptsError{Attempt: 3,
			Err: &smithyhttp.RequestSendError{Err: &url.Error{Op: "Post", URL: "https://sqs.us-east-1.amazonaws.com/", Err: err}}}}
	}
	status := func(code int) error {
		return &smithy.OperationError{ServiceID: "SQS", OperationName: "ReceiveMessage", Err: &awshttp.ResponseError{RequestID: "r",
			ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("api error")}}}
	}
	cases := map[string]error{
		"dial refused":        sendErr(opErr("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED))),
		"read reset":          sendErr(opErr("read", os.NewSyscallError("read", syscall.ECONNRESET))),
		"write broken pipe":   sendErr(opErr("write", os.NewSyscallError("write", syscall.EPIPE))),
		"EOF":                 sendErr(io.EOF),
		"read timeout":        sendErr(opErr("read", os.ErrDeadlineExceeded)),
		"url.Error only":      &url.Error{Op: "Post", URL: "http://x", Err: opErr("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED))},
		"500":                 status(500),
		"502":                 status(502),
		"503":                 status(503),
		"504":                 status(504),
		"ServiceUnavailable":  &smithy.GenericAPIError{Code: "ServiceUnavailable"},
		"InternalFailure":     &smithy.GenericAPIError{Code: "InternalFailure"},
		"unreachable network": sendErr(opErr("dial", os.NewSyscallError("connect", syscall.ENETUNREACH))),
	}
	for name, err := range sdkErrors(t) {
		cases["SDK: "+name] = err
	}
	for name, native := range cases {
		t.Run(name, func(t *testing.T) { testenv.CheckConnectionLoss(t, native, ErrorCode) })
	}
}
