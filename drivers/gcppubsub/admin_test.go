package gcppubsub

import (
	"errors"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/portmq/portmq/mq"
)

func (f *fake) config(sub string) *pb.Subscription {
	f.t.Helper()
	cfg, err := f.client.SubscriptionAdminClient.GetSubscription(f.ctx(), &pb.GetSubscriptionRequest{Subscription: fullName(testProject, kindSubscription, sub)})
	if err != nil {
		f.t.Fatalf("GetSubscription(%s): %v", sub, err)
	}
	return cfg
}

func TestAdminMapsSubscriptionConfig(t *testing.T) {
	f := newFake(t)
	f.topic("orders")
	cases := []struct {
		name        string
		cfg         mq.SubscriptionConfig
		ackSecs     int32
		policy      int32 // 0: none
		label       string
		dlq         string
		retainAcked bool
		retention   time.Duration
	}{
		{"plain", mq.SubscriptionConfig{}, 10, 0, "", "", false, 0},
		{"lease", mq.SubscriptionConfig{Lease: 1500 * time.Millisecond}, 2, 0, "", "", false, 0},
		{"native", mq.SubscriptionConfig{MaxAttempts: 7}, 10, 7, "", "native-dlq", false, 0},
		{"backstop", mq.SubscriptionConfig{MaxAttempts: 3, DeadLetterTopic: "orders-dead"}, 10, 5, "3", "orders-dead", false, 0},
		{"hundred", mq.SubscriptionConfig{MaxAttempts: 100}, 10, 100, "", "hundred-dlq", false, 0},
		{"retained", mq.SubscriptionConfig{Retention: time.Minute}, 10, 0, "", "", true, 10 * time.Minute},
		{"retained-day", mq.SubscriptionConfig{Retention: 24 * time.Hour, Ordered: true}, 10, 0, "", "", true, 24 * time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := f.admin.CreateSubscription(f.ctx(), "orders", c.name, c.cfg); err != nil {
				t.Fatal(err)
			}
			got := f.config(c.name)
			if got.AckDeadlineSeconds != c.ackSecs {
				t.Errorf("ack deadline %d s, want %d", got.AckDeadlineSeconds, c.ackSecs)
			}
			if got.EnableMessageOrdering != c.cfg.Ordered {
				t.Errorf("ordering %v, want %v", got.EnableMessageOrdering, c.cfg.Ordered)
			}
			p := got.GetDeadLetterPolicy()
			if p.GetMaxDeliveryAttempts() != c.policy {
				t.Errorf("policy max attempts %d, want %d", p.GetMaxDeliveryAttempts(), c.policy)
			}
			if c.dlq != "" && p.GetDeadLetterTopic() != fullName(testProject, kindTopic, c.dlq) {
				t.Errorf("dead-letter topic %q, want %s", p.GetDeadLetterTopic(), c.dlq)
			}
			if got.Labels[labelMaxAttempts] != c.label {
				t.Errorf("label %s = %q, want %q", labelMaxAttempts, got.Labels[labelMaxAttempts], c.label)
			}
			if got.RetainAckedMessages != c.retainAcked || (c.retention > 0 && got.MessageRetentionDuration.AsDuration() != c.retention) {
				t.Errorf("retain acked %v for %v, want %v for %v", got.RetainAckedMessages, got.MessageRetentionDuration.AsDuration(), c.retainAcked, c.retention)
			}
			if c.dlq != "" {
				// The dead-letter topic exists with a subscription of its ID.
				f.config(c.dlq)
			}
			// Opening reads it back.
			s := f.sub("gcppubsub://" + testProject + "/" + c.name)
			info, caps := s.Info(), s.Capabilities()
			wantMax := c.cfg.MaxAttempts
			if info.MaxAttempts != wantMax || info.Ordered != c.cfg.Ordered || info.HasDeadLetter != (c.dlq != "") || info.Lease != time.Duration(c.ackSecs)*time.Second {
				t.Errorf("Info = %+v", info)
			}
			if caps.Attempts.Has() != (c.policy > 0) || caps.DeadLetter.Has() != (c.policy > 0 && c.label == "") {
				t.Errorf("capabilities %v for policy %d label %q", caps, c.policy, c.label)
			}
		})
	}
}

func TestAdminRefusesWhatPubSubCannotDo(t *testing.T) {
	f := newFake(t)
	f.topic("refused")
	cases := []struct {
		name string
		err  error
		code mq.ErrorCode
	}{
		{"101 attempts", f.admin.CreateSubscription(f.ctx(), "refused", "s101", mq.SubscriptionConfig{MaxAttempts: 101}), mq.InvalidArgument},
		{"dead letter without attempts", f.admin.CreateSubscription(f.ctx(), "refused", "sdlq", mq.SubscriptionConfig{DeadLetterTopic: "xyz"}), mq.InvalidArgument},
		{"lease over 600 s", f.admin.CreateSubscription(f.ctx(), "refused", "slong", mq.SubscriptionConfig{Lease: 11 * time.Minute}), mq.InvalidArgument},
		{"retention over 7 days", f.admin.CreateSubscription(f.ctx(), "refused", "sret", mq.SubscriptionConfig{Retention: 8 * 24 * time.Hour}), mq.InvalidArgument},
		{"dedup window", f.admin.CreateTopic(f.ctx(), "dedup", mq.TopicConfig{DedupWindow: time.Minute}), mq.Unsupported},
		{"topic twice", f.admin.CreateTopic(f.ctx(), "refused", mq.TopicConfig{}), mq.AlreadyExists},
		{"subscription of a missing topic", f.admin.CreateSubscription(f.ctx(), "missing", "orphan", mq.SubscriptionConfig{}), mq.NotFound},
		{"bad topic ID", f.admin.CreateTopic(f.ctx(), "x", mq.TopicConfig{}), mq.InvalidArgument},
		{"delete missing topic", f.admin.DeleteTopic(f.ctx(), "missing"), mq.NotFound},
		{"delete missing subscription", f.admin.DeleteSubscription(f.ctx(), "refused", "missing"), mq.NotFound},
	}
	for _, c := range cases {
		if mq.Code(c.err) != c.code {
			t.Errorf("%s: %v (code %v), want code %v", c.name, c.err, mq.Code(c.err), c.code)
		}
	}
	if err := cases[4].err; !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("dedup window: %v does not match errors.ErrUnsupported", err)
	}
	if err := f.admin.CreateSubscription(f.ctx(), "refused", "twice", mq.SubscriptionConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.CreateSubscription(f.ctx(), "refused", "twice", mq.SubscriptionConfig{}); mq.Code(err) != mq.AlreadyExists {
		t.Errorf("subscription twice: %v, want AlreadyExists", err)
	}
	if err := f.admin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.CreateTopic(f.ctx(), "after-close", mq.TopicConfig{}); mq.Code(err) != mq.Closed {
		t.Errorf("CreateTopic after Close: %v, want Closed", err)
	}
}

func TestAdminKeepsAnExistingDeadLetterSubscription(t *testing.T) {
	f := newFake(t)
	f.topic("keep")
	f.topic("keep-dlq")
	f.subscription("keep-dlq", "my-own-reader", mq.SubscriptionConfig{})
	f.subscription("keep", "keeper", mq.SubscriptionConfig{MaxAttempts: 5, DeadLetterTopic: "keep-dlq"})
	_, err := f.client.SubscriptionAdminClient.GetSubscription(f.ctx(), &pb.GetSubscriptionRequest{Subscription: fullName(testProject, kindSubscription, "keep-dlq")})
	if errorCode(err) != mq.NotFound {
		t.Errorf("the admin created a subscription on a dead-letter topic that had one: %v", err)
	}
}
