package rabbitmq_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func rabbitmqNewTopic(conn *amqp.Connection, name string) (driver.Topic, error) {
	return rabbitmq.NewTopic(conn, name, nil)
}

func TestConstructorsUseTheCallersConnection(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, time.Minute)
	conn, err := amqp.Dial(base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	topic := uniqueName(t, "ctor")
	q := topic + ".q"
	t.Cleanup(func() { deleteAll(t, []string{q}, []string{topic}) })
	redials := 0
	redial := func(ctx context.Context) (*amqp.Connection, error) { redials++; return amqp.Dial(base) }

	ds, err := rabbitmq.NewSubscription(conn, q, &rabbitmq.SubscriptionOptions{Topic: topic, Lease: 10 * time.Second, Redial: redial})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	dt, err := rabbitmq.NewTopic(conn, topic, &rabbitmq.TopicOptions{MaxInFlight: 4, Redial: redial})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Info().Lease != 10*time.Second || sub.Info().Name != topic+"/"+q {
		t.Errorf("Info = %+v", sub.Info())
	}
	var c *amqp.Connection
	if !p.As(&c) || c != conn {
		t.Error("Producer.As(**amqp.Connection) is not the caller's connection")
	}
	// A window of 4 and a batch of 50: all confirmed, all delivered.
	msgs := make([]*mq.Message, 50)
	for i := range msgs {
		msgs[i] = &mq.Message{Body: []byte{byte(i)}}
	}
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range msgs {
		d, err := sub.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen[d.ID] = true
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range msgs {
		if !seen[m.ID] {
			t.Errorf("message %s not received", m.ID)
		}
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := sub.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if conn.IsClosed() {
		t.Error("closing the handles closed the caller's connection")
	}
	if redials != 0 {
		t.Errorf("%d redials without a connection loss", redials)
	}
}

func TestConstructorsRejectBadArguments(t *testing.T) {
	base := serverURL(t)
	conn, err := amqp.Dial(base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	checks := map[string]error{}
	_, checks["NewTopic(nil conn)"] = rabbitmq.NewTopic(nil, "t", nil)
	_, checks["NewTopic(empty name)"] = rabbitmq.NewTopic(conn, "", nil)
	_, checks["NewTopic(MaxInFlight -1)"] = rabbitmq.NewTopic(conn, "t", &rabbitmq.TopicOptions{MaxInFlight: -1})
	_, checks["NewSubscription(nil conn)"] = rabbitmq.NewSubscription(nil, "q", nil)
	_, checks["NewSubscription(empty queue)"] = rabbitmq.NewSubscription(conn, "", nil)
	_, checks["NewSubscription(negative lease)"] = rabbitmq.NewSubscription(conn, "q", &rabbitmq.SubscriptionOptions{Lease: -time.Second})
	_, checks["NewAdmin(nil)"] = rabbitmq.NewAdmin(nil)
	for what, err := range checks {
		if driver.CodeOf(err) != driver.InvalidArgument {
			t.Errorf("%s = %v, want InvalidArgument", what, err)
		}
	}
}
