package portmqpubsub

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

func TestPortmqURLStripsThePrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"portmq+mem://orders", "mem://orders"},
		{"portmq+mem://orders/billing?max_attempts=5&visibility=30s", "mem://orders/billing?max_attempts=5&visibility=30s"},
		{"portmq+amqp://guest:guest@localhost:5672/vhost?x=1", "amqp://guest:guest@localhost:5672/vhost?x=1"},
	} {
		u, _ := url.Parse(c.in)
		got, err := portmqURL(u)
		if err != nil || got != c.want {
			t.Errorf("portmqURL(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"mem://orders", "portmq+://x", "portmq+gocloud+mem://x", "portmq+gocloud+rabbit://user:s3cret@x"} {
		u, _ := url.Parse(in)
		if got, err := portmqURL(u); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("portmqURL(%s) = %q, %v; want an error without the password", in, got, err)
		}
	}
	if _, err := portmqURL(nil); err == nil {
		t.Error("portmqURL(nil) succeeded")
	}
}

func TestDefaultMuxHasThePortmqSchemes(t *testing.T) {
	for _, s := range Schemes {
		if !pubsub.DefaultURLMux().ValidTopicScheme(Prefix+s) || !pubsub.DefaultURLMux().ValidSubscriptionScheme(Prefix+s) {
			t.Errorf("%s%s not registered on the Go CDK's default mux", Prefix, s)
		}
	}
}

// Open errors come from portmq: classified, matching portmq's sentinels,
// naming the missing driver, and without the password.
func TestOpenErrorsArePortmqErrorsWithoutPassword(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		code mq.ErrorCode
		sub  bool
	}{
		// No portmq driver for kafka is imported by this test: NotFound,
		// naming the package to import.
		{"portmq+kafka://guest:s3cret@127.0.0.1:1/orders", mq.NotFound, false},
		{"portmq+mem://orders?bogus=1", mq.InvalidArgument, false},
		{"portmq+mem://user:s3cret@orders/billing", mq.InvalidArgument, true},
		{"portmq+mem://orders", mq.InvalidArgument, true}, // a subscription URL needs TOPIC/SUBSCRIPTION
	} {
		var err error
		if c.sub {
			_, err = pubsub.OpenSubscription(ctx, c.url)
		} else {
			_, err = pubsub.OpenTopic(ctx, c.url)
		}
		switch {
		case err == nil:
			t.Errorf("open %s succeeded", c.url)
		case strings.Contains(err.Error(), "s3cret"):
			t.Errorf("open %s: error %q contains the password", c.url, err)
		case mq.Code(err) != c.code:
			t.Errorf("open %s: %v has code %v, want %v", c.url, err, mq.Code(err), c.code)
		}
	}
	_, err := pubsub.OpenTopic(ctx, "portmq+kafka://127.0.0.1:1/orders")
	if err == nil || !strings.Contains(err.Error(), "drivers/kafka") {
		t.Errorf("error %q does not name the portmq package to import", err)
	}
}

// Through the Go CDK's URL mux and portable API: Nack counts an attempt
// (seen through Message.As), the subscription's max_attempts dead-letters,
// and BeforeSend sets portmq fields.
func TestGoCDKApplicationGetsPortmqSemantics(t *testing.T) {
	ctx := context.Background()
	topic, err := pubsub.OpenTopic(ctx, "portmq+mem://gocdk-app")
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	sub, err := pubsub.OpenSubscription(ctx, "portmq+mem://gocdk-app/billing?max_attempts=2&visibility=1m")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	dlq, err := pubsub.OpenSubscription(ctx, "portmq+mem://gocdk-app.billing.dlq/dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Shutdown(ctx)

	var sentID string
	err = topic.Send(ctx, &pubsub.Message{
		Body:     []byte("order 7"),
		Metadata: map[string]string{"region": "eu"},
		BeforeSend: func(as func(any) bool) error {
			var m *mq.Message
			if !as(&m) {
				return errors.New("no *mq.Message")
			}
			m.Key, m.DedupID = "customer-7", "order-7"
			return nil
		},
		AfterSend: func(as func(any) bool) error {
			var m *mq.Message
			if as(&m) {
				sentID = m.ID
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for attempt := 1; attempt <= 2; attempt++ {
		m, err := sub.Receive(rctx)
		if err != nil {
			t.Fatal(err)
		}
		var d *mq.Delivery
		if !m.As(&d) || d.Attempt != attempt || d.Key != "customer-7" || d.DedupID != "order-7" || m.LoggableID != sentID || m.Metadata["region"] != "eu" {
			t.Fatalf("attempt %d: delivery %+v, LoggableID %q (sent %q), metadata %v", attempt, d, m.LoggableID, sentID, m.Metadata)
		}
		m.Nack()
	}
	dl, err := dlq.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	dl.Ack()
	if string(dl.Body) != "order 7" || dl.Metadata[mq.AttrAttempts] != "2" || dl.Metadata["region"] != "eu" {
		t.Errorf("dead letter %q with metadata %v", dl.Body, dl.Metadata)
	}
	var e *memdriver.Engine
	if !sub.As(&e) || e != memdriver.Default() {
		t.Error("Subscription.As(**memdriver.Engine) does not reach memdriver")
	}
}

// Settling through the *mq.Delivery (for a nack with a delay) and then
// acking the Go CDK message is fine: the second settle is ignored.
func TestSettlingThroughTheDeliveryThenAckIsNotAnError(t *testing.T) {
	ctx := context.Background()
	topic, err := pubsub.OpenTopic(ctx, "portmq+mem://settle-twice")
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	sub, err := pubsub.OpenSubscription(ctx, "portmq+mem://settle-twice/s")
	if err != nil {
		t.Fatal(err)
	}
	if err := topic.Send(ctx, &pubsub.Message{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := sub.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	var d *mq.Delivery
	if !m.As(&d) {
		t.Fatal("Message.As(**mq.Delivery) = false")
	}
	if err := d.Nack(time.Hour); err != nil {
		t.Fatal(err)
	}
	m.Ack() // ErrSettled, suppressed as the Go CDK asks
	if err := sub.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after a double settle: %v (code %v)", err, gcerrors.Code(err))
	}
}
