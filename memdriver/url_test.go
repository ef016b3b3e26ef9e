package memdriver

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func TestMemSchemeIsRegistered(t *testing.T) {
	if !mq.DefaultURLMux().ValidScheme(Scheme) {
		t.Fatal("mem not registered")
	}
}

func TestOpenTopicURL(t *testing.T) {
	tests := []struct {
		url     string
		bad     string // substring of the error; "" = valid
		window  time.Duration
		maxBody int
		delay   driver.Support
	}{
		{url: "mem://orders", maxBody: DefaultMaxBodySize, delay: driver.Native},
		{url: "mem://orders/", maxBody: DefaultMaxBodySize, delay: driver.Native},
		{url: "mem://Or.d_e-rs9?dedup_window=5m&max_body=10&emulate=delay", window: 5 * time.Minute, maxBody: 10, delay: driver.None},
		{url: "mem://orders?emulate=all&max_body=0", maxBody: 0, delay: driver.None},
		{url: "mem://orders/sub", bad: "producer URL"},
		{url: "mem://", bad: "missing topic"},
		{url: "mem://orders?bogus=1", bad: `unknown parameter "bogus" (allowed: dedup_window, emulate, max_body)`},
		{url: "mem://orders?visibility=1s", bad: `unknown parameter "visibility"`},
		{url: "mem://orders?dedup_window=-1s", bad: "dedup_window"},
		{url: "mem://orders?dedup_window=5", bad: "dedup_window"},
		{url: "mem://orders?max_body=x", bad: "max_body"},
		{url: "mem://orders?max_body=-1", bad: "max_body"},
		{url: "mem://orders?emulate=lease,nack_delay", maxBody: DefaultMaxBodySize, delay: driver.Native},
		{url: "mem://orders?emulate=nope", bad: "emulate"},
		{url: "mem://orders?emulate=", bad: "emulate"},
		{url: "mem://orders?max_body=1&max_body=2", bad: "more than once"},
		{url: "mem://orders?a=%zz", bad: "malformed query"},
		{url: "mem://user:secret@orders", bad: "user info"},
		{url: "mem:orders", bad: "want mem://"},
		{url: "mem://orders#frag", bad: "fragment"},
		{url: "mem://or:1", bad: "topic name"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o := New(&Options{Clock: clock.NewFake(t0)}).Opener()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			tp, err := o.OpenTopic(context.Background(), u)
			if tt.bad != "" {
				checkURLError(t, err, tt.bad)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tp.Close()
			th := tp.(*topicHandle)
			caps := tp.Capabilities()
			if th.t.dedup.getWindow() != tt.window || caps.MaxBodySize != tt.maxBody || caps.Delay != tt.delay {
				t.Fatalf("window %v caps %v max %d", th.t.dedup.getWindow(), caps, caps.MaxBodySize)
			}
		})
	}
}

func checkURLError(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, driver.ErrInvalidURL) {
		t.Fatalf("err = %v, want one wrapping ErrInvalidURL", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("err %q leaks the password", err)
	}
}

func TestOpenSubscriptionURL(t *testing.T) {
	tests := []struct {
		url  string
		bad  string
		info driver.SubscriptionInfo
		emu  Emulate
	}{
		{url: "mem://t/s", info: driver.SubscriptionInfo{Name: "t/s", Lease: DefaultLease}},
		{
			url:  "mem://t/s?visibility=10s&max_attempts=5&dead_letter=graves&ordered=true&retention=1h&emulate=lease,nack_delay&max_body=5",
			info: driver.SubscriptionInfo{Name: "t/s", Lease: 10 * time.Second, MaxAttempts: 5, Ordered: true, HasDeadLetter: true},
			emu:  EmulateLease | EmulateNackDelay,
		},
		{url: "mem://t/s?max_attempts=2&ordered=0&emulate=all", info: driver.SubscriptionInfo{Name: "t/s", Lease: DefaultLease, MaxAttempts: 2, HasDeadLetter: true}, emu: EmulateAll},
		{url: "mem://t", bad: "needs a subscription"},
		{url: "mem://t/", bad: "needs a subscription"},
		{url: "mem://t/s/x", bad: "subscription name"},
		{url: "mem://t/s?dedup_window=1s", bad: `unknown parameter "dedup_window"`},
		{url: "mem://t/s?visibility=-1s", bad: "visibility"},
		{url: "mem://t/s?visibility=soon", bad: "visibility"},
		{url: "mem://t/s?retention=-1h", bad: "retention"},
		{url: "mem://t/s?max_attempts=-1", bad: "max_attempts"},
		{url: "mem://t/s?max_attempts=five", bad: "max_attempts"},
		{url: "mem://t/s?max_attempts=99999999999999999999999", bad: "max_attempts"},
		{url: "mem://t/s?ordered=maybe", bad: "ordered"},
		{url: "mem://t/s?dead_letter=a/b", bad: "dead_letter"},
		{url: "mem://t/s?dead_letter=", bad: "dead_letter"},
		{url: "mem://t/s?emulate=lease,wat", bad: "emulate"},
		{url: "mem://t/s%20x", bad: "subscription name"},
		{url: "mem://u:secret@t/s", bad: "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o := New(&Options{Clock: clock.NewFake(t0)}).Opener()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			s, err := o.OpenSubscription(context.Background(), u)
			if tt.bad != "" {
				checkURLError(t, err, tt.bad)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Info(); got != tt.info {
				t.Fatalf("Info = %+v, want %+v", got, tt.info)
			}
			if got := s.(*subHandle).emu; got != tt.emu {
				t.Fatalf("emulate = %v, want %v", got, tt.emu)
			}
		})
	}
}

func TestOpenSubscriptionURLConflictNamesTheSetting(t *testing.T) {
	o := New(&Options{Clock: clock.NewFake(t0)}).Opener()
	open := func(raw string) (driver.Subscription, error) {
		u, _ := url.Parse(raw)
		return o.OpenSubscription(context.Background(), u)
	}
	s, err := open("mem://t/s?visibility=10s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s2, err := open("mem://t/s")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, err = open("mem://t/s?visibility=20s")
	wantCode(t, err, driver.FailedPrecondition)
	if !strings.Contains(err.Error(), "visibility") {
		t.Fatalf("err %q", err)
	}
}

func TestOpenAdminURL(t *testing.T) {
	o := New(nil).Opener().(driver.AdminOpener)
	for _, raw := range []string{"mem://", "mem://anything", "mem://x/y"} {
		u, _ := url.Parse(raw)
		a, err := o.OpenAdmin(context.Background(), u)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		_ = a.Close()
	}
	u, _ := url.Parse("mem://?x=1")
	_, err := o.OpenAdmin(context.Background(), u)
	checkURLError(t, err, `unknown parameter "x" (allowed: none)`)
}

// FuzzOpenURL checks that no input makes an opener panic.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{"mem://t", "mem://t/s?visibility=1s&emulate=all", "mem://t/s?max_attempts=1", "mem://%", "mem:x", ""} {
		f.Add(s)
	}
	e := New(&Options{Clock: clock.NewFake(t0)})
	o := e.Opener()
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		ctx := context.Background()
		if tp, err := o.OpenTopic(ctx, u); err == nil {
			_ = tp.Close()
		}
		if s, err := o.OpenSubscription(ctx, u); err == nil {
			_ = s.Close()
		}
		if a, err := o.(driver.AdminOpener).OpenAdmin(ctx, u); err == nil {
			_ = a.Close()
		}
	})
}
