package kafka

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// TestBadURLsAreInvalidArgument checks that URLs the driver cannot use
// fail before any network call, with code InvalidArgument and without
// the password in the error.
func TestBadURLsAreInvalidArgument(t *testing.T) {
	const secret = "s3cret-pw"
	cases := []struct {
		name, kind, url, want string
	}{
		{"no brokers", "producer", "kafka:///orders", "missing brokers"},
		{"no topic", "producer", "kafka://h:9092", "missing topic"},
		{"topic with a slash", "producer", "kafka://h:9092/a/b", "one path segment"},
		{"topic with a space", "producer", "kafka://h:9092/a%20b", "a-z A-Z"},
		{"fragment", "producer", "kafka://h:9092/t#x", "fragment"},
		{"opaque", "producer", "kafka:h:9092", "want kafka://"},
		{"empty broker", "producer", "kafka://a:1,,b:2/t", "empty broker"},
		{"unknown producer parameter", "producer", "kafka://h:9092/t?bogus=1", `unknown parameter "bogus"`},
		{"subscription parameter on a producer", "producer", "kafka://h:9092/t?subscription=s", `unknown parameter "subscription"`},
		{"repeated parameter", "producer", "kafka://h:9092/t?linger=1ms&linger=2ms", "more than once"},
		{"bad linger", "producer", "kafka://h:9092/t?linger=-1s", `"linger"`},
		{"bad compression", "producer", "kafka://h:9092/t?compression=brotli", "none, gzip"},
		{"bad batch_max_bytes", "producer", "kafka://h:9092/t?batch_max_bytes=10", `"batch_max_bytes"`},
		{"bad max_body", "producer", "kafka://h:9092/t?max_body=0", `"max_body"`},
		{"sasl without a user", "producer", "kafka://h:9092/t?sasl=plain", "needs a user"},
		{"unknown sasl", "producer", "kafka://u:" + secret + "@h:9092/t?sasl=kerberos", "plain, scram"},
		{"tls_ca without tls", "producer", "kafka://h:9092/t?tls_ca=/x.pem", "needs tls=true"},
		{"bad tls", "producer", "kafka://h:9092/t?tls=maybe", `"tls"`},
		{"missing CA file", "producer", "kafka://h:9092/t?tls=true&tls_ca=/nonexistent/ca.pem", "cannot read"},
		{"cert without key", "producer", "kafka://h:9092/t?tls=true&tls_cert=/c.pem", "go together"},
		{"no subscription", "subscription", "kafka://h:9092/t", "subscription=NAME"},
		{"bad mode", "subscription", "kafka://h:9092/t?subscription=s&mode=queue", "group or share"},
		{"bad lease", "subscription", "kafka://h:9092/t?subscription=s&lease=0s", `"lease"`},
		{"bad max_attempts", "subscription", "kafka://h:9092/t?subscription=s&max_attempts=-1", `"max_attempts"`},
		{"bad ordered", "subscription", "kafka://h:9092/t?subscription=s&ordered=yes", `"ordered"`},
		{"bad start", "subscription", "kafka://h:9092/t?subscription=s&start=now", "latest or earliest"},
		{"bad dead_letter", "subscription", "kafka://h:9092/t?subscription=s&dead_letter=a/b", `"dead_letter"`},
		{"bad group name", "subscription", "kafka://h:9092/t?subscription=a%2Fb", "subscription name"},
		{"ordered share", "subscription", "kafka://h:9092/t?subscription=s&mode=share&ordered=true", "need GroupMode"},
		{"producer parameter on a subscription", "subscription", "kafka://u:" + secret + "@h:9092/t?subscription=s&linger=1ms", `unknown parameter "linger"`},
		{"retry topic is the topic", "subscription", "kafka://h:9092/t?subscription=s&retry_topic=t", "must differ"},
		{"admin with a topic", "admin", "kafka://h:9092/t", "names no topic"},
		{"bad partitions", "admin", "kafka://h:9092/?partitions=0", `"partitions"`},
		{"bad replication", "admin", "kafka://h:9092/?replication=0", `"replication"`},
		{"subscription parameter on an admin", "admin", "kafka://h:9092/?subscription=s", `unknown parameter "subscription"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			switch c.kind {
			case "producer":
				var p *mq.Producer
				p, err = mq.OpenProducer(t.Context(), c.url)
				if err == nil {
					_ = p.Shutdown(t.Context())
				}
			case "subscription":
				var s *mq.Subscription
				s, err = mq.OpenSubscription(t.Context(), c.url)
				if err == nil {
					_ = s.Shutdown(t.Context())
				}
			case "admin":
				var a *mq.Admin
				a, err = mq.OpenAdmin(t.Context(), c.url)
				if err == nil {
					_ = a.Close()
				}
			}
			switch {
			case err == nil:
				t.Fatalf("opening %s succeeded, want an error containing %q", c.url, c.want)
			case mq.Code(err) != mq.InvalidArgument:
				t.Errorf("error %q has code %v, want InvalidArgument", err, mq.Code(err))
			case !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error contains the password: %q", err)
			}
		})
	}
}

// TestSubscriptionParametersBecomeOptions checks the mapping from URL
// parameters to SubscriptionOptions.
func TestSubscriptionParametersBecomeOptions(t *testing.T) {
	u, err := url.Parse("kafka://a,b:1/orders?subscription=billing&mode=share&lease=45s&max_attempts=4" +
		"&dead_letter=orders.dead&retry_topic=orders.again&start=earliest&commit_interval=2s&idle_leave=5s" +
		"&revoke_wait=3s&max_poll_records=100&session_timeout=10s&heartbeat_interval=1s&rebalance_timeout=20s&fetch_max_wait=300ms")
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseURL(u, true, subParams)
	if err != nil {
		t.Fatal(err)
	}
	o, err := p.subscriptionOptions()
	if err != nil {
		t.Fatal(err)
	}
	want := SubscriptionOptions{Mode: ShareMode, Lease: 45 * time.Second, MaxAttempts: 4, DeadLetterTopic: "orders.dead",
		RetryTopic: "orders.again", Start: StartEarliest, CommitInterval: 2 * time.Second, IdleLeave: 5 * time.Second,
		RevokeWait: 3 * time.Second, MaxPollRecords: 100}
	got := *o
	got.ClientOpts = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options %+v, want %+v", got, want)
	}
	if len(o.ClientOpts) != 4 {
		t.Errorf("%d client options, want 4 (session, heartbeat, rebalance, fetch wait)", len(o.ClientOpts))
	}
	if p.topic != "orders" {
		t.Errorf("topic %q", p.topic)
	}
	cl, err := kgo.NewClient(p.clientOpts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if seeds := cl.OptValue(kgo.SeedBrokers).([]string); strings.Join(seeds, ",") != "a:9092,b:1" {
		t.Errorf("seed brokers %v, want [a:9092 b:1]", seeds)
	}
}

// TestResolveDefaults checks the defaults of SubscriptionOptions and the
// rejection of bad ones.
func TestResolveDefaults(t *testing.T) {
	r, err := resolveSubscription("orders", "billing", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Lease != 30*time.Second || r.DeadLetterTopic != "orders.dlq.billing" || r.RetryTopic != "orders.retry.billing" ||
		r.CommitInterval != time.Second || r.IdleLeave != 2*time.Second || r.RevokeWait != r.Lease || r.MaxPollRecords != 500 ||
		r.sourceName != "orders/billing" {
		t.Errorf("defaults %+v", r)
	}
	if r, _ := resolveSubscription("orders", "billing", &SubscriptionOptions{Mode: ShareMode}); r.MaxPollRecords != 64 {
		t.Errorf("share mode MaxPollRecords %d, want 64", r.MaxPollRecords)
	}
	for _, o := range []*SubscriptionOptions{
		{Mode: 7}, {Start: 9}, {Lease: -1}, {MaxAttempts: -1}, {Ordered: true, Mode: ShareMode},
		{DeadLetterTopic: "orders"}, {RetryTopic: "x", DeadLetterTopic: "x"}, {RetryTopic: strings.Repeat("r", 250)},
	} {
		if _, err := resolveSubscription("orders", "billing", o); driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("resolveSubscription(%+v) = %v, want InvalidArgument", o, err)
		}
	}
	if _, err := resolveSubscription("", "billing", nil); err == nil {
		t.Error("empty topic accepted")
	}
	if _, err := resolveSubscription("orders", "", nil); err == nil {
		t.Error("empty subscription accepted")
	}
	if _, err := OpenSubscription(t.Context(), nil, "orders", "billing", nil); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenSubscription(nil client) = %v", err)
	}
	if _, err := OpenTopic(t.Context(), nil, "orders", nil); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenTopic(nil client) = %v", err)
	}
	if _, err := OpenAdmin(nil, nil); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenAdmin(nil client) = %v", err)
	}
}
