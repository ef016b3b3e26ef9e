package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// CheckConnectionLoss asserts what the drivers' TestConnectionLossIsUnavailable
// tables check of each native error a cut produces: code, the driver's
// classification, says Unavailable, and a Send through mq.Producer over a
// topic that fails with it ends Unavailable and retryable, wrapping it.
func CheckConnectionLoss(tb testing.TB, native error, code func(error) driver.ErrorCode) {
	tb.Helper()
	if got := code(native); got != driver.Unavailable {
		tb.Errorf("ErrorCode(%v) = %v, want Unavailable", native, got)
	}
	p, err := mq.NewProducer(lossTopic{native, code})
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	err = p.Send(ctx, &mq.Message{Body: []byte("x")})
	if mq.Code(err) != mq.Unavailable || !mq.IsRetryable(err) || !errors.Is(err, native) {
		tb.Errorf("Send failing with %v: %v (code %v, retryable %v), want Unavailable, retryable, wrapping the native error", native, err, mq.Code(err), mq.IsRetryable(err))
	}
}

// lossTopic is a topic whose every send fails with err, classified by
// code: it shows what mq makes of a native error.
type lossTopic struct {
	err  error
	code func(error) driver.ErrorCode
}

func (t lossTopic) SendBatch(context.Context, []driver.Message) error { return t.err }
func (lossTopic) Capabilities() driver.Capabilities                   { return driver.Capabilities{} }
func (lossTopic) As(any) bool                                         { return false }
func (lossTopic) ErrorAs(err error, i any) bool                       { return errors.As(err, i) }
func (t lossTopic) ErrorCode(err error) driver.ErrorCode              { return t.code(err) }
func (lossTopic) Close() error                                        { return nil }
