package rabbitmq

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", raw, err)
	}
	return u
}

func TestTopicURLParsesEveryParameter(t *testing.T) {
	o := new(URLOpener)
	ep, q, err := o.parse(mustParse(t, "amqps://alice:s%3Fcret@broker.example:5671/prod?topic=orders&max_in_flight=64&max_body=1024&unroutable=drop&heartbeat=30s&dial_timeout=5s"), topicParams)
	if err != nil {
		t.Fatal(err)
	}
	if ep.dialURL != "amqps://alice:s%3Fcret@broker.example:5671/prod" {
		t.Errorf("dialURL = %q", ep.dialURL)
	}
	if strings.Contains(ep.redacted, "cret") || !strings.Contains(ep.redacted, "alice") {
		t.Errorf("redacted = %q, want the user without the password", ep.redacted)
	}
	if ep.password != "s?cret" || ep.heartbeat != 30*time.Second || ep.dialTimeout != 5*time.Second {
		t.Errorf("endpoint = %+v", ep)
	}
	name, err := q.name("topic", true)
	if err != nil || name != "orders" {
		t.Errorf("topic = %q, %v", name, err)
	}
	opts, err := q.topicOptions()
	if err != nil {
		t.Fatal(err)
	}
	if opts.MaxInFlight != 64 || opts.MaxBodySize != 1024 || !opts.DropUnroutable {
		t.Errorf("options = %+v", opts)
	}
}

func TestSubscriptionURLParsesEveryParameter(t *testing.T) {
	o := new(URLOpener)
	_, q, err := o.parse(mustParse(t, "amqp://localhost/?topic=orders&subscription=pay&visibility=45s&max_attempts=4&dead_letter=orders.dead&ordered=true&prefetch=32&max_in_flight=8&max_body=0&idle_cancel=0"), subParams)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := q.subscriptionOptions()
	if err != nil {
		t.Fatal(err)
	}
	want := SubscriptionOptions{Topic: "orders", Lease: 45 * time.Second, MaxAttempts: 4, DeadLetterTopic: "orders.dead", Ordered: true, Prefetch: 32, MaxInFlight: 8, MaxBodySize: -1, IdleCancel: -1}
	if opts.Topic != want.Topic || opts.Lease != want.Lease || opts.MaxAttempts != want.MaxAttempts || opts.DeadLetterTopic != want.DeadLetterTopic ||
		opts.Ordered != want.Ordered || opts.Prefetch != want.Prefetch || opts.MaxInFlight != want.MaxInFlight || opts.MaxBodySize != want.MaxBodySize || opts.IdleCancel != want.IdleCancel {
		t.Errorf("options = %+v, want %+v", *opts, want)
	}
	d, err := opts.withDefaults("pay")
	if err != nil {
		t.Fatal(err)
	}
	if d.MaxBodySize != 0 || d.IdleCancel != -1 {
		t.Errorf("defaults applied to explicit settings: %+v", d)
	}
}

func TestSubscriptionDefaults(t *testing.T) {
	d, err := (&SubscriptionOptions{MaxAttempts: 3}).withDefaults("pay")
	if err != nil {
		t.Fatal(err)
	}
	if d.Lease != DefaultLease || d.Prefetch != DefaultPrefetch || d.MaxInFlight != DefaultMaxInFlight ||
		d.IdleCancel != DefaultIdleCancel || d.MaxBodySize != DefaultMaxBodySize || d.DeadLetterTopic != "pay.dlq" {
		t.Errorf("defaults = %+v", d)
	}
	d, err = (*SubscriptionOptions)(nil).withDefaults("pay")
	if err != nil || d.DeadLetterTopic != "" {
		t.Errorf("nil options: %+v, %v; want no dead-letter topic without max attempts", d, err)
	}
	for _, bad := range []SubscriptionOptions{{Lease: -1}, {MaxAttempts: -1}, {Prefetch: 70000}, {MaxInFlight: -2}} {
		if _, err := bad.withDefaults("q"); driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("withDefaults(%+v) = %v, want InvalidArgument", bad, err)
		}
	}
	if _, err := (&TopicOptions{MaxInFlight: -1}).withDefaults(); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("TopicOptions{MaxInFlight: -1} = %v, want InvalidArgument", err)
	}
}

func TestBadURLsAreInvalidWithoutPassword(t *testing.T) {
	cases := []struct {
		url     string
		allowed []string
		want    string // in the error
	}{
		{"amqp://u:pw@h/?topic=t&bogus=1", topicParams, `unknown parameter "bogus"`},
		{"amqp://u:pw@h/?topic=t&topic=u", topicParams, "more than once"},
		{"amqp://u:pw@h/?topic=t&subscription=s", topicParams, `unknown parameter "subscription"`},
		{"amqp://u:pw@h/?topic=t&max_in_flight=0", topicParams, "max_in_flight"},
		{"amqp://u:pw@h/?topic=t&max_in_flight=x", topicParams, "max_in_flight"},
		{"amqp://u:pw@h/?topic=t&max_body=-1", topicParams, "max_body"},
		{"amqp://u:pw@h/?topic=t&unroutable=maybe", topicParams, "unroutable"},
		{"amqp://u:pw@h/?topic=t&heartbeat=1.5s", topicParams, "heartbeat"},
		{"amqp://u:pw@h/?topic=t&heartbeat=-1s", topicParams, "heartbeat"},
		{"amqp://u:pw@h/?topic=t&dial_timeout=0s", topicParams, "dial_timeout"},
		{"amqp://u:pw@h/?subscription=s&visibility=0s", subParams, "visibility"},
		{"amqp://u:pw@h/?subscription=s&visibility=soon", subParams, "visibility"},
		{"amqp://u:pw@h/?subscription=s&max_attempts=-2", subParams, "max_attempts"},
		{"amqp://u:pw@h/?subscription=s&ordered=perhaps", subParams, "ordered"},
		{"amqp://u:pw@h/?subscription=s&prefetch=70000", subParams, "prefetch"},
		{"amqp://u:pw@h/?subscription=s&idle_cancel=-1s", subParams, "idle_cancel"},
		{"amqp://u:pw@h/?subscription=", subParams, "subscription"},
		{"amqp://u:pw@h/a/b?topic=t", topicParams, "vhost"},
		{"amqp://u:pw@h/?topic=t#frag", topicParams, "fragment"},
		{"amqp://u:pw@/?topic=t", topicParams, "missing host"},
		{"http://u:pw@h/?topic=t", topicParams, "scheme"},
		{"amqp://u:pw@h/?topic=%zz", topicParams, "malformed query"},
	}
	o := new(URLOpener)
	for _, c := range cases {
		u := mustParse(t, c.url)
		_, q, err := o.parse(u, c.allowed)
		if err == nil {
			if slicesHas(c.allowed, "subscription") {
				_, err = q.name("subscription", true)
				if err == nil {
					_, err = q.subscriptionOptions()
				}
			} else {
				_, err = q.topicOptions()
			}
		}
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.url)
		case !errors.Is(err, driver.ErrInvalidURL):
			t.Errorf("%s: error %v does not wrap ErrInvalidURL", c.url, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q does not mention %q", c.url, err, c.want)
		case strings.Contains(err.Error(), "pw"):
			t.Errorf("%s: error %q contains the password", c.url, err)
		}
	}
}

func TestMissingNamesAreInvalid(t *testing.T) {
	o := new(URLOpener)
	_, q, err := o.parse(mustParse(t, "amqp://h/"), topicParams)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.name("topic", true); !errors.Is(err, driver.ErrInvalidURL) || !strings.Contains(err.Error(), `missing parameter "topic"`) {
		t.Errorf("missing topic: %v", err)
	}
	if n, err := q.name("topic", false); n != "" || err != nil {
		t.Errorf("optional topic: %q, %v", n, err)
	}
}

func slicesHas(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
