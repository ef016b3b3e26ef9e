package awsmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

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
