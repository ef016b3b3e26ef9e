package gocloud

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

func TestTopicURLBecomesGoCDKURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"gocloud+mem://orders", "mem://orders"},
		{"gocloud+mem://orders/eu", "mem://orders/eu"},
		{"gocloud+rabbit://orders?key_name=rk", "rabbit://orders?key_name=rk"},
		// Schemes whose parameters this package does not know pass them
		// all through; the Go CDK validates them.
		{"gocloud+awssqs://sqs.us-east-2.amazonaws.com/123/q?region=us-east-2&awssdk=v2", "awssqs://sqs.us-east-2.amazonaws.com/123/q?awssdk=v2&region=us-east-2"},
		{"gocloud+gcppubsub://projects/p/topics/t", "gcppubsub://projects/p/topics/t"},
	} {
		got, err := parseTopicURL(mustParse(t, c.in))
		if err != nil {
			t.Errorf("parseTopicURL(%s): %v", c.in, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("parseTopicURL(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestSubscriptionURLSplitsPortmqAndGoCDKParameters(t *testing.T) {
	su, err := parseSubURL(mustParse(t, "gocloud+rabbit://payments?prefetch_count=10&visibility=45s&max_attempts=5&retry_topic=rabbit://orders&dead_letter=gocloud%2Brabbit://orders.dlq&name=pay"))
	if err != nil {
		t.Fatal(err)
	}
	if got := su.cdk.String(); got != "rabbit://payments?prefetch_count=10" {
		t.Errorf("Go CDK URL %s, want rabbit://payments?prefetch_count=10", got)
	}
	if su.name != "pay" || su.lease != 45*time.Second || su.maxAttempts != 5 {
		t.Errorf("name %q lease %v max attempts %d, want pay 45s 5", su.name, su.lease, su.maxAttempts)
	}
	if su.retry.String() != "rabbit://orders" || su.deadLetter.String() != "rabbit://orders.dlq" {
		t.Errorf("retry %s dead letter %s, want rabbit://orders and rabbit://orders.dlq (gocloud+ prefix dropped)", su.retry, su.deadLetter)
	}
}

func TestSubscriptionURLDefaults(t *testing.T) {
	su, err := parseSubURL(mustParse(t, "gocloud+mem://orders?ackdeadline=1m"))
	if err != nil {
		t.Fatal(err)
	}
	// mem: the subscription URL names the topic, the default retry topic;
	// the name defaults to host+path.
	if su.name != "orders" || su.retry == nil || su.retry.String() != "mem://orders" || su.lease != 0 || su.deadLetter != nil {
		t.Errorf("defaults: name %q retry %v lease %v dead letter %v", su.name, su.retry, su.lease, su.deadLetter)
	}
	su, err = parseSubURL(mustParse(t, "gocloud+rabbit://payments"))
	if err != nil {
		t.Fatal(err)
	}
	if su.retry != nil || su.name != "payments" {
		t.Errorf("rabbit defaults: retry %v name %q, want none and payments", su.retry, su.name)
	}
}

func TestBadURLsAreInvalidArgumentWithoutPassword(t *testing.T) {
	for _, c := range []struct {
		in, want string
		sub      bool
	}{
		{"gocloud+mem://user:s3cret@orders", "user info", false},
		{"gocloud+mem://user:s3cret@orders", "user info", true},
		{"gocloud+mem://orders?bogus=1", `unknown parameter "bogus"`, false},
		{"gocloud+mem://orders?bogus=1", `unknown parameter "bogus"`, true},
		{"gocloud+rabbit://orders?prefetch_count=1", `unknown parameter "prefetch_count"`, false},
		{"gocloud+mem://orders?visibility=-1s", "visibility", true},
		{"gocloud+mem://orders?visibility=soon", "visibility", true},
		{"gocloud+mem://orders?max_attempts=x", "max_attempts", true},
		{"gocloud+mem://orders?max_attempts=3", `needs "dead_letter"`, true},
		{"gocloud+rabbit://q?max_attempts=3&dead_letter=rabbit://d", `needs "retry_topic"`, true},
		{"gocloud+mem://orders?name=a&name=b", "more than once", true},
		{"gocloud+mem://orders?dead_letter=nourl", "not a Go CDK topic URL", true},
		{"gocloud+mem://orders?dead_letter=mem://u:s3cret@d/%25zz", "not a Go CDK topic URL", true},
		{"gocloud+mem://orders?dead_letter=mem://u:s3cret@d", "user info", true},
		{"gocloud+mem://orders?retry_topic=mem://t?bogus=1", "", true},
		{"gocloud+mem://orders#frag", "fragment", true},
		{"gocloud+mem:opaque", "not of the form", true},
		{"gocloud+://x", "names no Go CDK scheme", false},
		{"gocloud+rabbit://", "names no subscription", true},
	} {
		u := mustParse(t, c.in)
		var err error
		if c.sub {
			_, err = parseSubURL(u)
		} else {
			_, err = parseTopicURL(u)
		}
		switch {
		case err == nil:
			t.Errorf("%s (subscription %v): no error", c.in, c.sub)
		case !errors.Is(err, driver.ErrInvalidURL):
			t.Errorf("%s: error %v does not wrap driver.ErrInvalidURL", c.in, err)
		case strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: error %q contains the password", c.in, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: error %q does not say %q", c.in, err, c.want)
		}
	}
}

func TestRedactURLHidesPassword(t *testing.T) {
	for _, raw := range []string{"amqp://guest:s3cret@127.0.0.1:5672/", "amqp://guest:s3cret@host/%zz"} {
		if got := redactURL(raw); strings.Contains(got, "s3cret") {
			t.Errorf("redactURL = %q", got)
		}
	}
}
