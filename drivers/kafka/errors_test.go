package kafka

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

// refusedClientErrors returns what franz-go really returns for a produce,
// a request and a ping when the broker refuses connections.
func refusedClientErrors(t *testing.T) map[string]error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: dials are refused
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordDeliveryTimeout(time.Second), kgo.RequestRetries(1), kgo.RetryTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]error{}
	out["produce to a refusing broker"] = cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr()
	_, out["metadata request to a refusing broker"] = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	out["ping of a refusing broker"] = cl.Ping(ctx)
	for name, err := range out {
		if err == nil || ctx.Err() != nil {
			t.Fatalf("%s: %v (ctx %v)", name, err, ctx.Err())
		}
	}
	return out
}

// TestConnectionLossIsUnavailable lists what franz-go returns when a
// broker is cut, refuses connections or times out: its retriable Kafka
// errors, ErrFirstReadEOF (an EOF right after a dial), its "unable to dial"
// wrapping of a dial error, the network errors of a cut, and the errors a
// client at a refusing address really returns. Each must be Unavailable
// and retryable through mq.
func TestConnectionLossIsUnavailable(t *testing.T) {
	op := func(o string, err error) error { return &net.OpError{Op: o, Net: "tcp", Err: err} }
	cases := map[string]error{
		"not leader":                   kerr.NotLeaderForPartition,
		"leader not available":         kerr.LeaderNotAvailable,
		"broker not available":         kerr.BrokerNotAvailable,
		"network exception":            kerr.NetworkException,
		"request timed out":            kerr.RequestTimedOut,
		"coordinator not available":    kerr.CoordinatorNotAvailable,
		"not coordinator":              kerr.NotCoordinator,
		"coordinator loading":          kerr.CoordinatorLoadInProgress,
		"record timeout":               fmt.Errorf("%w, last err: %w", kgo.ErrRecordTimeout, op("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED))),
		"record retries":               kgo.ErrRecordRetries,
		"EOF right after a dial":       &kgo.ErrFirstReadEOF{},
		"unable to dial":               fmt.Errorf("unable to dial: %w", op("dial", os.NewSyscallError("connect", syscall.ECONNREFUSED))),
		"EOF":                          io.EOF,
		"read reset":                   op("read", os.NewSyscallError("read", syscall.ECONNRESET)),
		"write broken pipe":            op("write", os.NewSyscallError("write", syscall.EPIPE)),
		"read timeout":                 op("read", os.ErrDeadlineExceeded),
		"connection closed under call": op("read", net.ErrClosed),
	}
	for name, err := range refusedClientErrors(t) {
		cases[name] = err
	}
	for name, native := range cases {
		t.Run(name, func(t *testing.T) { testenv.CheckConnectionLoss(t, native, errorCode) })
	}
	if got := errorCode(kgo.ErrClientClosed); got != driver.Closed {
		t.Errorf("ErrClientClosed = %v, want Closed", got)
	}
}
