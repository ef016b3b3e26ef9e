package mq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// TestBadInputGetsTypedErrorsAndNeverPanics drives every kind of bad input
// named in the contract (rule 14) through the public API.
func TestBadInputGetsTypedErrorsAndNeverPanics(t *testing.T) {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "mem://badinput/s")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	p, err := mq.OpenProducer(ctx, "mem://badinput")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	tooMany := map[string]string{}
	for i := range 33 {
		tooMany[strings.Repeat("k", i+1)] = "v"
	}

	cases := []struct {
		name string
		call func() error
		code mq.ErrorCode
		want string // substring of the error text
	}{
		{"malformed URL", func() error { _, err := mq.OpenProducer(ctx, "mem://bad host/%zz"); return err }, mq.InvalidArgument, "malformed URL"},
		{"no scheme", func() error { _, err := mq.OpenProducer(ctx, "orders"); return err }, mq.InvalidArgument, "no scheme"},
		{"unknown scheme names it and hints at the import", func() error { _, err := mq.OpenSubscription(ctx, "kafkaa://b/t"); return err }, mq.NotFound, `"kafkaa"`},
		{"unknown query parameter", func() error { _, err := mq.OpenSubscription(ctx, "mem://badinput/s?visibilty=1s"); return err }, mq.InvalidArgument, "visibilty"},
		{"invalid parameter value", func() error { _, err := mq.OpenSubscription(ctx, "mem://badinput/s2?max_attempts=many"); return err }, mq.InvalidArgument, "max_attempts"},
		{"nil message", func() error { return p.Send(ctx, nil) }, mq.InvalidArgument, "nil message"},
		{"nil message in batch", func() error { return p.SendBatch(ctx, []*mq.Message{{}, nil}) }, mq.InvalidArgument, "nil message"},
		{"over-size body", func() error { return p.Send(ctx, &mq.Message{Body: make([]byte, 1<<20+1)}) }, mq.InvalidArgument, "exceeds"},
		{"33 attributes", func() error { return p.Send(ctx, &mq.Message{Attributes: tooMany}) }, mq.InvalidArgument, "33 attributes"},
		{"empty attribute key", func() error { return p.Send(ctx, &mq.Message{Attributes: map[string]string{"": "v"}}) }, mq.InvalidArgument, "attribute key"},
		{"attribute key not UTF-8", func() error { return p.Send(ctx, &mq.Message{Attributes: map[string]string{"\xff": "v"}}) }, mq.InvalidArgument, "UTF-8"},
		{"attribute value not UTF-8", func() error { return p.Send(ctx, &mq.Message{Attributes: map[string]string{"k": "\xfe"}}) }, mq.InvalidArgument, "UTF-8"},
		{"reserved attribute prefix", func() error {
			return p.Send(ctx, &mq.Message{Attributes: map[string]string{"portmq-attempts": "1"}})
		}, mq.InvalidArgument, "reserved"},
		{"negative delay", func() error { return p.Send(ctx, &mq.Message{Delay: -time.Second}) }, mq.InvalidArgument, "negative"},
		{"over-long key", func() error { return p.Send(ctx, &mq.Message{Key: strings.Repeat("k", 129)}) }, mq.InvalidArgument, "Key"},
		{"receive batch of zero", func() error { _, err := sub.ReceiveBatch(ctx, 0); return err }, mq.InvalidArgument, "at least 1"},
		{"nil delivery ack", func() error { var d *mq.Delivery; return d.Ack() }, mq.InvalidArgument, "not a received delivery"},
		{"zero delivery nack", func() error { return new(mq.Delivery).Nack(0) }, mq.InvalidArgument, "not a received delivery"},
		{"nil consumer args", func() error { _, err := mq.NewConsumer(nil, nil); return err }, mq.InvalidArgument, "nil"},
		{"bad concurrency", func() error {
			_, err := mq.NewConsumer(sub, func(context.Context, *mq.Delivery) error { return nil }, mq.WithConcurrency(0))
			return err
		}, mq.InvalidArgument, "concurrency"},
		{"bad backoff", func() error {
			_, err := mq.NewConsumer(sub, func(context.Context, *mq.Delivery) error { return nil }, mq.WithBackoff(mq.Backoff{Min: time.Second}))
			return err
		}, mq.InvalidArgument, "Min <= Max"},
		{"bad prefetch", func() error { _, err := mq.OpenSubscription(ctx, "mem://badinput/s", mq.WithPrefetch(0)); return err }, mq.InvalidArgument, "prefetch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panicked: %v", r)
					}
				}()
				err = tc.call()
			}()
			if err == nil {
				t.Fatal("no error")
			}
			if got := mq.Code(err); got != tc.code {
				t.Errorf("Code = %v, want %v (err: %v)", got, tc.code, err)
			}
			var me *mq.Error
			if !errors.As(err, &me) {
				t.Errorf("error %T is not an *mq.Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	// Nothing invalid reached the subscription.
	rctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if d, err := sub.Receive(rctx); err == nil {
		t.Errorf("invalid input was delivered: %+v", d.Message)
	}
}

// TestDoubleSettleAndUseAfterShutdownReturnErrors checks rule 14's "nothing
// panics on double ack or after shutdown".
func TestDoubleSettleAndUseAfterShutdownReturnErrors(t *testing.T) {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "mem://double/s")
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "mem://double")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := p.Send(ctx, &mq.Message{Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"Ack":        d.Ack,
		"Nack":       func() error { return d.Nack(0) },
		"DeadLetter": func() error { return d.DeadLetter("x") },
		"Extend":     func() error { return d.Extend(time.Second) },
	} {
		if err := f(); !errors.Is(err, mq.ErrSettled) {
			t.Errorf("%s after Ack: %v, want ErrSettled", name, err)
		}
	}
	d2, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d2.Ack(); !errors.Is(err, mq.ErrClosed) {
		t.Errorf("Ack after Shutdown: %v, want ErrClosed", err)
	}
	if _, err := sub.Receive(ctx); !errors.Is(err, mq.ErrClosed) || mq.Code(err) != mq.Closed {
		t.Errorf("Receive after Shutdown: %v, want ErrClosed", err)
	}
	if err := p.Send(ctx, &mq.Message{}); !errors.Is(err, mq.ErrClosed) {
		t.Errorf("Send after Shutdown: %v, want ErrClosed", err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := sub.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestPasswordsNeverAppearInErrors opens bad URLs carrying userinfo.
func TestPasswordsNeverAppearInErrors(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"nosuch://user:s3cret@host/t",
		"mem://user:s3cret@t?bogus=1",
		"mem://user:s3cret@t/s?visibility=-1s",
		"mem://user:s3cret@bad host/%zz",
		"nosuch://user:s3cret@bad host/%zz",
	} {
		_, err1 := mq.OpenProducer(ctx, u)
		_, err2 := mq.OpenSubscription(ctx, u)
		_, err3 := mq.OpenAdmin(ctx, u)
		for _, err := range []error{err1, err2, err3} {
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error leaks the password: %v", u, err)
			}
		}
		if err1 == nil && err2 == nil {
			t.Errorf("%s: no error", u)
		}
	}
}

// withoutExtend hides the Extend method of the subscription it wraps.
type withoutExtend struct{ driver.Subscription }

// TestNativeLeaseWithoutExtenderIsRefused: Extend is an optional interface
// of the SPI (driver.Extender), required only of drivers with a native
// lease; one that declares a native lease without it is refused at
// NewSubscription, not found out at the first Extend.
func TestNativeLeaseWithoutExtenderIsRefused(t *testing.T) {
	e := memdriver.New(nil)
	ds, err := e.OpenSubscription("t", "s", &driver.SubscriptionConfig{Lease: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if !ds.Capabilities().Lease.Has() {
		t.Fatal("memdriver's lease is not native: the test needs one that is")
	}
	if _, err := mq.NewSubscription(withoutExtend{ds}); mq.Code(err) != mq.InvalidArgument || !strings.Contains(err.Error(), "driver.Extender") {
		t.Errorf("NewSubscription of a native lease without Extend: %v, want InvalidArgument naming driver.Extender", err)
	}
	s, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatalf("NewSubscription of the driver itself: %v", err)
	}
	_ = s.Shutdown(context.Background())
}
