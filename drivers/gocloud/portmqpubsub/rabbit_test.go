package portmqpubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/driver"
	"gocloud.dev/pubsub/drivertest"

	_ "github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// newAMQPHarness runs the suite on portmq's RabbitMQ driver (amqp://)
// against the test broker. Exchanges and queues are named with a per-run
// random prefix and deleted after each test.
func newAMQPHarness(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
	base, err := url.Parse(testenv.RabbitMQURL())
	if err != nil {
		return nil, err
	}
	base.RawQuery = ""
	a, err := mq.OpenAdmin(ctx, base.String())
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	withQuery := func(q url.Values) string {
		u := *base
		u.RawQuery = q.Encode()
		return u.String()
	}
	return &harness{
		admin:    a,
		prefix:   "portmqpubsub-test-" + hex.EncodeToString(b[:]) + "-",
		topicURL: func(topic string) string { return withQuery(url.Values{"topic": {topic}}) },
		subURL: func(topic, sub string) string {
			return withQuery(url.Values{"topic": {topic}, "subscription": {sub}})
		},
		topics: map[driver.Topic]string{},
	}, nil
}

func TestConformanceAMQP(t *testing.T) {
	drivertest.RunConformanceTests(t, newAMQPHarness, []drivertest.AsTest{escapeHatches{native: func(as func(any) bool) error {
		var c *amqp.Connection
		if !as(&c) || c == nil {
			return errors.New("As(**amqp.Connection) = false, want the RabbitMQ driver's connection")
		}
		return nil
	}}})
}

// A Go CDK application on RabbitMQ through portmq+amqp URLs: the
// password stays out of errors, and Nack counts attempts natively.
func TestGoCDKApplicationOnRabbitMQ(t *testing.T) {
	ctx := context.Background()
	hi, err := newAMQPHarness(ctx, t)
	if err != nil {
		t.Fatal(err)
	}
	h := hi.(*harness)
	defer h.Close()
	tn, sn := h.prefix+"app", h.prefix+"app-sub"
	defer h.admin.DeleteTopic(ctx, tn)
	defer h.admin.DeleteSubscription(ctx, tn, sn)
	sub, err := pubsub.OpenSubscription(ctx, Prefix+h.subURL(tn, sn))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	top, err := pubsub.OpenTopic(ctx, Prefix+h.topicURL(tn))
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(ctx)
	if err := top.Send(ctx, &pubsub.Message{Body: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		m, err := sub.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var d *mq.Delivery
		if !m.As(&d) || d.Attempt != attempt || string(m.Body) != "hello" {
			t.Fatalf("delivery %d: %q, attempt %v", attempt, m.Body, d)
		}
		if attempt == 1 {
			m.Nack()
		} else {
			m.Ack()
		}
	}
	bad := "amqp://guest:s3cretpw@127.0.0.1:1/?topic=x&dial_timeout=1s" // nothing listens on port 1
	if _, err := pubsub.OpenTopic(ctx, Prefix+bad); err == nil || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("open of an unreachable broker = %v, want an error without the password", err)
	}
}
