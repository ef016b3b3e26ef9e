package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// internalPair opens, for an internal test, a subscription and a producer
// on fresh resources (deleted at the end) with the query kv.
func internalPair(t *testing.T, kv ...string) (*mq.Producer, *mq.Subscription, func(...string) string) {
	t.Helper()
	base := testenv.RabbitMQURL()
	c, err := amqp.DialConfig(base, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	_ = c.Close()
	var b [4]byte
	_, _ = rand.Read(b[:])
	topic := "portmq-rmq-internal-" + hex.EncodeToString(b[:])
	q := topic + ".q"
	withQuery := func(kv ...string) string {
		u, _ := url.Parse(base)
		v := u.Query()
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		u.RawQuery = v.Encode()
		return u.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		a, err := mq.OpenAdmin(ctx, base)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer a.Close()
		for _, err := range []error{a.DeleteSubscription(ctx, topic, q), a.DeleteSubscription(ctx, q+".dlq", q+".dlq"), a.DeleteTopic(ctx, q+".dlq"), a.DeleteTopic(ctx, topic)} {
			if err != nil && !errors.Is(err, mq.ErrNotFound) {
				t.Logf("cleanup: %v", err)
			}
		}
	})
	s, err := mq.OpenSubscription(ctx, withQuery(append([]string{"topic", topic, "subscription", q}, kv...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	p, err := mq.OpenProducer(ctx, withQuery("topic", topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, s, func(kv ...string) string {
		return withQuery(append([]string{"topic", q + ".dlq", "subscription", q + ".dlq"}, kv...)...)
	}
}

// TestDelayedNackWhoseAckIsLostIsNotDuplicated cuts the channel between a
// delayed nack's confirmed copy and the original's ack (the window a
// broker restart or a network cut can hit): the broker gets the original
// back, and without the driver's orphan bookkeeping the message would be
// delivered twice, once as the original (attempt 2) and once as the copy
// (attempt 2), each then going on to fail and be dead-lettered on its own
// (issue 12, 3).
func TestDelayedNackWhoseAckIsLostIsNotDuplicated(t *testing.T) {
	p, s, _ := internalPair(t, "max_attempts", "5")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Send(ctx, &mq.Message{Body: []byte("once")}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	testHookCopied = func(ss *session) { _ = ss.ch.Close() }
	err = d.Nack(100 * time.Millisecond)
	testHookCopied = nil
	if !errors.Is(err, mq.ErrLeaseExpired) {
		t.Fatalf("Nack whose ack was lost: %v, want ErrLeaseExpired", err)
	}
	var got []int
	for {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		d, err := s.Receive(rctx)
		rcancel()
		if err != nil {
			break
		}
		got = append(got, d.Attempt)
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0] != 2 {
		t.Fatalf("after a delayed nack whose ack was lost, deliveries with attempts %v; want one, attempt 2", got)
	}
}

// TestNackAtMaxAttemptsDeadLettersThroughTheBroker checks that a nack at
// max attempts dead-letters with basic.reject (the broker moves the
// message in one step; a fault cannot leave both the original and a dead
// letter) and that the dead letter still carries portmq's metadata.
func TestNackAtMaxAttemptsDeadLettersThroughTheBroker(t *testing.T) {
	p, s, dlqURL := internalPair(t, "max_attempts", "2")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Send(ctx, &mq.Message{Body: []byte("poison"), Attributes: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		d, err := s.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Attempt != i {
			t.Fatalf("attempt %d, want %d", d.Attempt, i)
		}
		if err := d.Nack(0); err != nil {
			t.Fatal(err)
		}
	}
	dlq, err := mq.OpenSubscription(ctx, dlqURL())
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Shutdown(context.Background())
	dl, err := dlq.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var native *amqp.Delivery
	if !dl.As(&native) {
		t.Fatal("Delivery.As(**amqp.Delivery) = false")
	}
	deaths, _ := native.Headers[hdrDeath].([]any)
	if len(deaths) == 0 {
		t.Fatalf("dead letter without x-death: %v", native.Headers)
	}
	if reason, _ := deaths[0].(amqp.Table)["reason"].(string); reason != "rejected" {
		t.Errorf("the broker dead-lettered it for %q, want rejected (basic.reject by the driver)", reason)
	}
	if string(dl.Body) != "poison" || dl.Attributes["k"] != "v" || dl.Attributes[mq.AttrDeadLetterReason] != "max attempts (2) reached" ||
		dl.Attributes[mq.AttrAttempts] != "2" || dl.Attributes[mq.AttrSource] == "" {
		t.Errorf("dead letter %q with attributes %v", dl.Body, dl.Attributes)
	}
	if err := dl.Ack(); err != nil {
		t.Fatal(err)
	}
}
