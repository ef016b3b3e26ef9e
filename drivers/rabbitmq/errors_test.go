package rabbitmq_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq"
)

// wantCode checks err's code and that it carries no password.
func wantCode(t *testing.T, what string, err error, code mq.ErrorCode, mention string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s: no error, want %v", what, code)
	case mq.Code(err) != code:
		t.Fatalf("%s: %v (code %v), want code %v", what, err, mq.Code(err), code)
	case !strings.Contains(err.Error(), mention):
		t.Errorf("%s: error %q does not mention %q", what, err, mention)
	}
}

func TestWrongPasswordIsUnauthenticatedAndRedacted(t *testing.T) {
	base := serverURL(t)
	u, _ := url.Parse(base)
	const secret = "not-the-pässword"
	u.User = url.UserPassword(u.User.Username(), secret)
	_, err := mq.OpenProducer(ctxFor(t, 30*time.Second), withQuery(t, u.String(), "topic", uniqueName(t, "t")))
	wantCode(t, "OpenProducer with a wrong password", err, mq.Unauthenticated, "")
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), url.QueryEscape(secret)) {
		t.Errorf("error contains the password: %v", err)
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
		t.Errorf("native *amqp.Error not reachable: %v", err)
	}
}

func TestReservedQueueNameIsPermissionDenied(t *testing.T) {
	base := serverURL(t)
	// The broker refuses names with the reserved prefix amq.: ACCESS_REFUSED.
	_, err := mq.OpenSubscription(ctxFor(t, 30*time.Second), withQuery(t, base, "subscription", "amq.portmq-"+uniqueName(t, "q")))
	wantCode(t, "OpenSubscription on amq.*", err, mq.PermissionDenied, "ACCESS_REFUSED")
}

func TestUnknownVhostIsNotFound(t *testing.T) {
	base := serverURL(t)
	u, _ := url.Parse(base)
	u.Path = "/" + uniqueName(t, "vhost")
	_, err := mq.OpenProducer(ctxFor(t, 30*time.Second), withQuery(t, u.String(), "topic", "t"))
	wantCode(t, "OpenProducer on an unknown vhost", err, mq.NotFound, "vhost")
}

func TestAdminReportsNotFoundAndAlreadyExists(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, time.Minute)
	a, err := mq.OpenAdmin(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	topic := uniqueName(t, "admin")
	err = a.CreateSubscription(ctx, topic, topic+".q", mq.SubscriptionConfig{})
	wantCode(t, "CreateSubscription on a missing topic", err, mq.NotFound, topic)
	wantCode(t, "DeleteTopic of a missing topic", a.DeleteTopic(ctx, topic), mq.NotFound, topic)
	wantCode(t, "DeleteSubscription of a missing queue", a.DeleteSubscription(ctx, topic, topic+".q"), mq.NotFound, topic)
	if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAll(t, []string{topic + ".q", topic + ".q.dlq"}, []string{topic, topic + ".q.dlq"}) })
	wantCode(t, "CreateTopic twice", a.CreateTopic(ctx, topic, mq.TopicConfig{}), mq.AlreadyExists, topic)
	if err := a.CreateSubscription(ctx, topic, topic+".q", mq.SubscriptionConfig{MaxAttempts: 2}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "CreateSubscription twice", a.CreateSubscription(ctx, topic, topic+".q", mq.SubscriptionConfig{}), mq.AlreadyExists, topic)
	wantCode(t, "CreateTopic with a dedup window", a.CreateTopic(ctx, topic+"x", mq.TopicConfig{DedupWindow: time.Minute}), mq.Unsupported, "dedup")
	wantCode(t, "CreateSubscription with retention", a.CreateSubscription(ctx, topic, topic+".r", mq.SubscriptionConfig{Retention: time.Hour}), mq.Unsupported, "")
	// The subscription URL with the same settings opens the queue.
	s, err := mq.OpenSubscription(ctx, withQuery(t, base, "topic", topic, "subscription", topic+".q", "max_attempts", "2"))
	if err != nil {
		t.Fatalf("opening the provisioned queue with its settings: %v", err)
	}
	_ = s.Shutdown(ctx)
	if err := a.DeleteSubscription(ctx, topic, topic+".q"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
}

func TestRedeclareWithOtherSettingsNamesTheSetting(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, time.Minute)
	topic := uniqueName(t, "redeclare")
	q := topic + ".q"
	t.Cleanup(func() { deleteAll(t, []string{q, q + ".dlq"}, []string{topic, q + ".dlq"}) })
	open := func(kv ...string) error {
		s, err := mq.OpenSubscription(ctx, withQuery(t, base, append([]string{"topic", topic, "subscription", q}, kv...)...))
		if err == nil {
			_ = s.Shutdown(ctx)
		}
		return err
	}
	if err := open("max_attempts", "3"); err != nil {
		t.Fatal(err)
	}
	if err := open("max_attempts", "3", "visibility", "5s"); err != nil {
		t.Fatalf("reopening with the same queue settings and another lease: %v", err)
	}
	wantCode(t, "reopening with max_attempts=5", open("max_attempts", "5"), mq.FailedPrecondition, "max_attempts")
	wantCode(t, "reopening with ordered=true", open("max_attempts", "3", "ordered", "true"), mq.FailedPrecondition, "ordered")
	wantCode(t, "reopening without max_attempts", open(), mq.FailedPrecondition, "")

	// An exchange of another type under the topic's name.
	conn, err := amqp.Dial(base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	direct := uniqueName(t, "direct")
	if err := ch.ExchangeDeclare(direct, "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteAll(t, nil, []string{direct}) })
	_, err = mq.OpenProducer(ctx, withQuery(t, base, "topic", direct))
	wantCode(t, "OpenProducer on a direct exchange", err, mq.FailedPrecondition, "exchange type")
}

func TestSendToTopicWithoutSubscriptionIsReported(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, time.Minute)
	topic := uniqueName(t, "unroutable")
	t.Cleanup(func() { deleteAll(t, nil, []string{topic}) })
	p, err := mq.OpenProducer(ctx, withQuery(t, base, "topic", topic))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	m := &mq.Message{Body: []byte("nobody listens")}
	wantCode(t, "Send to a topic without queues", p.Send(ctx, m), mq.FailedPrecondition, "no queue bound")
	if m.ID != "" {
		t.Errorf("failed Send set ID %q", m.ID)
	}
	// The producer keeps working.
	err = p.SendBatch(ctx, []*mq.Message{{Body: []byte("a")}, {Body: []byte("b")}})
	var be *mq.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 2 || mq.Code(be.Errs[1]) != mq.FailedPrecondition {
		t.Errorf("SendBatch to a topic without queues = %v, want a BatchError of FailedPrecondition", err)
	}

	drop, err := mq.OpenProducer(ctx, withQuery(t, base, "topic", topic, "unroutable", "drop"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop.Shutdown(ctx)
	if err := drop.Send(ctx, &mq.Message{Body: []byte("dropped")}); err != nil {
		t.Errorf("Send with unroutable=drop: %v", err)
	}
}
