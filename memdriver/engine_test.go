package memdriver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestOpenSubscriptionWithDifferentSettingsIsFailedPrecondition(t *testing.T) {
	base := driver.SubscriptionConfig{Lease: time.Minute, MaxAttempts: 3, DeadLetterTopic: "d", Ordered: true, Retention: time.Hour}
	tests := []struct {
		name    string
		cfg     *driver.SubscriptionConfig
		setting string // "" = no conflict
	}{
		{"nil", nil, ""},
		{"zero", &driver.SubscriptionConfig{}, ""},
		{"same", &base, ""},
		{"lease", &driver.SubscriptionConfig{Lease: time.Second}, "visibility"},
		{"max attempts", &driver.SubscriptionConfig{MaxAttempts: 4}, "max_attempts"},
		{"dead letter", &driver.SubscriptionConfig{DeadLetterTopic: "other"}, "dead_letter"},
		{"retention", &driver.SubscriptionConfig{Retention: time.Minute}, "retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			v.sub("t", "s", &base, nil)
			s, err := v.e.OpenSubscription("t", "s", tt.cfg, nil)
			if tt.setting == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				return
			}
			wantCode(t, err, driver.FailedPrecondition)
			if !strings.Contains(err.Error(), tt.setting) {
				t.Fatalf("error %q does not name %s", err, tt.setting)
			}
		})
	}
	v := newEnv(t)
	v.sub("t", "s", nil, nil)
	_, err := v.e.OpenSubscription("t", "s", &driver.SubscriptionConfig{Ordered: true}, nil)
	wantCode(t, err, driver.FailedPrecondition)
}

func TestOpenRejectsBadNamesAndConfigs(t *testing.T) {
	v := newEnv(t)
	for _, name := range []string{"", "a/b", "a b", "é", strings.Repeat("x", 256), "a?"} {
		if _, err := v.e.OpenTopic(name, nil); driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("OpenTopic(%q) = %v", name, err)
		}
		if _, err := v.e.OpenSubscription("t", name, nil, nil); driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("OpenSubscription(t, %q) = %v", name, err)
		}
	}
	for _, cfg := range []driver.SubscriptionConfig{{Lease: -1}, {MaxAttempts: -1}, {Retention: -1}, {DeadLetterTopic: "a/b"}} {
		if _, err := v.e.OpenSubscription("t", "s", &cfg, nil); driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("OpenSubscription(%+v) = %v", cfg, err)
		}
	}
	if _, err := v.e.OpenTopic(strings.Repeat("x", 255), &driver.TopicConfig{}); err != nil {
		t.Error(err)
	}
}

func TestInfoDescribesTheSubscription(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{MaxAttempts: 5, Ordered: true}, nil)
	want := driver.SubscriptionInfo{Name: "t/s", Lease: DefaultLease, MaxAttempts: 5, Ordered: true, HasDeadLetter: true}
	if got := s.Info(); got != want {
		t.Fatalf("Info = %+v, want %+v", got, want)
	}
	if got := v.sub("t", "plain", nil, nil).Info(); got.HasDeadLetter || got.MaxAttempts != 0 {
		t.Fatalf("Info = %+v", got)
	}
}

func TestAsExposesOnlyTheEngine(t *testing.T) {
	v := newEnv(t)
	objs := []driver.Common{v.topic("t", nil), v.sub("t", "s", nil, nil), v.e.Admin()}
	for _, o := range objs {
		var e *Engine
		if !o.As(&e) || e != v.e {
			t.Errorf("%T.As(**Engine) failed", o)
		}
		var s string
		if o.As(&s) || o.As(nil) {
			t.Errorf("%T.As(*string) succeeded", o)
		}
		if o.ErrorAs(errors.New("x"), &s) {
			t.Errorf("%T.ErrorAs succeeded", o)
		}
		if o.ErrorCode(errors.New("x")) != driver.Unknown || o.ErrorCode(driver.ErrLeaseExpired()) != driver.FailedPrecondition {
			t.Errorf("%T.ErrorCode wrong", o)
		}
	}
}

func TestAdminCreatesAndDeletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := newEnv(t)
		a := v.e.Admin()
		defer a.Close()
		wantCode(t, a.CreateSubscription(ctx, "t", "s", driver.SubscriptionConfig{}), driver.NotFound)
		if err := a.CreateTopic(ctx, "t", driver.TopicConfig{DedupWindow: time.Minute}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, a.CreateTopic(ctx, "t", driver.TopicConfig{}), driver.AlreadyExists)
		if err := a.CreateSubscription(ctx, "t", "s", driver.SubscriptionConfig{MaxAttempts: 2}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, a.CreateSubscription(ctx, "t", "s", driver.SubscriptionConfig{}), driver.AlreadyExists)
		wantCode(t, a.CreateTopic(ctx, "t.s.dlq", driver.TopicConfig{}), driver.AlreadyExists) // created with s
		wantCode(t, a.CreateTopic(ctx, "bad/name", driver.TopicConfig{}), driver.InvalidArgument)

		s := v.sub("t", "s", nil, nil)
		tp := v.topic("t", nil)
		if tp.(*topicHandle).t.dedup.getWindow() != time.Minute {
			t.Fatal("dedup window not kept")
		}
		wantCode(t, a.DeleteSubscription(ctx, "t", "nope"), driver.NotFound)
		wantCode(t, a.DeleteSubscription(ctx, "nope", "s"), driver.NotFound)
		errc := make(chan error)
		go func() {
			_, err := s.ReceiveBatch(ctx, make([]driver.Message, 1))
			errc <- err
		}()
		waitForWaiter(t, s)
		if err := a.DeleteSubscription(ctx, "t", "s"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, <-errc, driver.NotFound)
		wantCode(t, s.Ack(ctx, nil), driver.NotFound)
		sendBodies(t, tp, "to nobody")
		if err := a.DeleteTopic(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, a.DeleteTopic(ctx, "t"), driver.NotFound)
		wantCode(t, tp.SendBatch(ctx, []driver.Message{{}}), driver.NotFound)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		wantCode(t, a.CreateTopic(ctx, "x", driver.TopicConfig{}), driver.Closed)
	})
}

func TestDefaultEngineIsShared(t *testing.T) {
	if a, b := Default(), Default(); a != b || a == nil {
		t.Fatal("Default not stable")
	}
}
