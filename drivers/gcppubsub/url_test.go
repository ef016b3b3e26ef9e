package gcppubsub

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func TestParseResourceAcceptsFullAndShortForms(t *testing.T) {
	cases := []struct {
		raw, kind, project, id string
	}{
		{"gcppubsub://projects/my-project/topics/orders", kindTopic, "my-project", "orders"},
		{"gcppubsub://my-project/orders", kindTopic, "my-project", "orders"},
		{"gcppubsub://projects/my-project/subscriptions/billing", kindSubscription, "my-project", "billing"},
		{"gcppubsub://my-project/billing", kindSubscription, "my-project", "billing"},
		{"gcppubsub://projects/example.com:proj/topics/Orders.v2~x+y%25z", kindTopic, "example.com:proj", "Orders.v2~x+y%z"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatal(err)
		}
		p, id, err := parseResource(u, c.kind)
		if err != nil || p != c.project || id != c.id {
			t.Errorf("parseResource(%s) = %q, %q, %v; want %q, %q", c.raw, p, id, err, c.project, c.id)
		}
	}
}

func TestParseResourceRejectsMalformedURLs(t *testing.T) {
	cases := []struct{ raw, kind, want string }{
		{"gcppubsub:///orders", kindTopic, "missing project"},
		{"gcppubsub://projects/p1/subscriptions/abc", kindTopic, "not subscriptions"},
		{"gcppubsub://projects/p1/topics/abc", kindSubscription, "not topics"},
		{"gcppubsub://projects/p1/topics", kindTopic, "want gcppubsub://"},
		{"gcppubsub://p1/a/b", kindTopic, "want gcppubsub://"},
		{"gcppubsub://p1/ab", kindTopic, "has 2 bytes"},
		{"gcppubsub://p1/1abc", kindTopic, "does not start with a letter"},
		{"gcppubsub://p1/googthing", kindTopic, "starts with \"goog\""},
		{"gcppubsub://p1/a%20bc", kindTopic, "contains"},
		{"gcppubsub://p1/abc#frag", kindTopic, "fragment"},
		{"gcppubsub:opaque", kindTopic, "want gcppubsub://projects"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		_, _, err = parseResource(u, c.kind)
		if err == nil || !errors.Is(err, driver.ErrInvalidURL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseResource(%s) = %v, want an ErrInvalidURL error containing %q", c.raw, err, c.want)
		}
	}
}

func TestUserInfoIsRefusedWithoutEchoingIt(t *testing.T) {
	o := new(URLOpener)
	for _, raw := range []string{
		"gcppubsub://user:hunter2@projects/p1/topics/abc",
		"gcppubsub://user:hunter2@p1/abc",
		"gcppubsub://user:hunter2@projects/p1",
	} {
		u, _ := url.Parse(raw)
		errs := []error{}
		_, err := o.OpenTopic(t.Context(), u)
		errs = append(errs, err)
		_, err = o.OpenSubscription(t.Context(), u)
		errs = append(errs, err)
		_, err = o.OpenAdmin(t.Context(), u)
		errs = append(errs, err)
		for _, err := range errs {
			if err == nil || mq.Code(err) != mq.InvalidArgument {
				t.Errorf("%s: %v, want InvalidArgument", u.Redacted(), err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error contains the password: %v", err)
			}
		}
	}
}

func TestUnknownAndRepeatedParametersAreRejected(t *testing.T) {
	o := new(URLOpener)
	ctx := context.Background()
	open := map[string]func(*url.URL) error{
		"topic": func(u *url.URL) error { _, err := o.OpenTopic(ctx, u); return err },
		"sub":   func(u *url.URL) error { _, err := o.OpenSubscription(ctx, u); return err },
		"admin": func(u *url.URL) error { _, err := o.OpenAdmin(ctx, u); return err },
	}
	cases := []struct{ kind, raw, want string }{
		{"topic", "gcppubsub://p1/abc?bogus=1", `unknown parameter "bogus" (allowed: batch_delay)`},
		{"topic", "gcppubsub://p1/abc?batch_delay=1ms&batch_delay=2ms", "more than once"},
		{"topic", "gcppubsub://p1/abc?batch_delay=-1s", "non-negative duration"},
		{"topic", "gcppubsub://p1/abc?ack_deadline=10s", "unknown parameter"},
		{"sub", "gcppubsub://p1/abc?bogus=1", "allowed: ack_deadline, dead_letter, max_attempts, ordered"},
		{"sub", "gcppubsub://p1/abc?ack_deadline=500ms", "from 1s to 10m"},
		{"sub", "gcppubsub://p1/abc?ack_deadline=11m", "from 1s to 10m"},
		{"sub", "gcppubsub://p1/abc?max_attempts=101", "from 0 to 100"},
		{"sub", "gcppubsub://p1/abc?max_attempts=x", "from 0 to 100"},
		{"sub", "gcppubsub://p1/abc?ordered=maybe", "a boolean"},
		{"sub", "gcppubsub://p1/abc?dead_letter=projects/p1/subscriptions/x1x", "dead_letter"},
		{"sub", "gcppubsub://p1/abc?batch_delay=1ms", "unknown parameter"},
		{"admin", "gcppubsub://p1?x=1", `unknown parameter "x" (allowed: none)`},
		{"admin", "gcppubsub://projects/p1/topics/abc", "admin URL names a project"},
		{"sub", "gcppubsub://p1/abc?%zz", "malformed query"},
	}
	for _, c := range cases {
		u, err := url.Parse(c.raw)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		err = open[c.kind](u)
		if err == nil || !errors.Is(err, driver.ErrInvalidURL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("open %s %s = %v, want an ErrInvalidURL error containing %q", c.kind, c.raw, err, c.want)
		}
	}
}

func TestParseProject(t *testing.T) {
	for raw, want := range map[string]string{
		"gcppubsub://projects/p1":  "p1",
		"gcppubsub://projects/p1/": "p1",
		"gcppubsub://p1":           "p1",
		"gcppubsub://p1/":          "p1",
	} {
		u, _ := url.Parse(raw)
		if got, err := parseProject(u); err != nil || got != want {
			t.Errorf("parseProject(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"gcppubsub://", "gcppubsub://p1/x", "gcppubsub://projects/a/b", "gcppubsub://bad%2Fname"} {
		u, _ := url.Parse(raw)
		if _, err := parseProject(u); err == nil {
			t.Errorf("parseProject(%s) succeeded", raw)
		}
	}
}

func TestURLParametersReachTheHandles(t *testing.T) {
	f := newFake(t)
	topic := f.topic("params")
	f.subscription("params", "params-sub", mq.SubscriptionConfig{Lease: 20 * 1e9, MaxAttempts: 7, Ordered: true})
	p := f.producer(topic + "?batch_delay=0s")
	var pub *pubsub.Publisher
	if !p.As(&pub) || pub.PublishSettings.DelayThreshold != 0 || !pub.EnableMessageOrdering {
		t.Errorf("batch_delay=0s did not reach the publisher: %+v", pub)
	}
	base := "gcppubsub://projects/" + testProject + "/subscriptions/params-sub"
	s := f.sub(base + "?ack_deadline=20s&max_attempts=7&ordered=true&dead_letter=params-sub-dlq")
	info := s.Info()
	if info.Lease != 20*1e9 || info.MaxAttempts != 7 || !info.Ordered || !info.HasDeadLetter {
		t.Errorf("Info = %+v", info)
	}
	for _, q := range []string{"ack_deadline=30s", "max_attempts=6", "dead_letter=other-dlq"} {
		_, err := f.mux.OpenSubscription(f.ctx(), base+"?"+q)
		if mq.Code(err) != mq.FailedPrecondition || !strings.Contains(err.Error(), "params-sub has") {
			t.Errorf("open with %s on a subscription that disagrees = %v, want FailedPrecondition", q, err)
		}
	}
	f.subscription("params", "params-unordered", mq.SubscriptionConfig{})
	_, err := f.mux.OpenSubscription(f.ctx(), "gcppubsub://projects/"+testProject+"/subscriptions/params-unordered?ordered=true")
	if mq.Code(err) != mq.FailedPrecondition {
		t.Errorf("ordered=true on an unordered subscription = %v, want FailedPrecondition", err)
	}
}
