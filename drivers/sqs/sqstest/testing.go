package sqstest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/mq"
)

// Main runs the tests, stops the server Shared started and then checks
// that no goroutine was left behind (go.uber.org/goleak). Use it as
//
//	func TestMain(m *testing.M) { os.Exit(sqstest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

// Config returns an AWS configuration for raw SDK clients of the server,
// with an HTTP client whose idle connections are closed when the test
// ends.
func (s *Server) Config(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(s.Region))
	if err != nil {
		tb.Fatal(err)
	}
	tr := cfg.HTTPClient.(*awshttp.BuildableClient).GetTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	cfg.HTTPClient = &http.Client{Transport: tr}
	if s.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(s.Endpoint)
	}
	return cfg
}

// Recv receives one delivery within 10 s or fails the test.
func Recv(tb testing.TB, s *mq.Subscription) *mq.Delivery {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.Receive(ctx)
	if err != nil {
		tb.Fatalf("Receive: %v", err)
	}
	return d
}

// None reports a delivery within d as an error (and acks it).
func None(tb testing.TB, s *mq.Subscription, d time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if got, err := s.Receive(ctx); err == nil {
		tb.Errorf("received %q (attempt %d), want nothing", got.Body, got.Attempt)
		_ = got.Ack()
	}
}
