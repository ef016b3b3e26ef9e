package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/mq"
)

// Producing and consuming by URL: a fanout exchange "orders" and a quorum
// queue "payments" bound to it, dead-lettering to payments.dlq after five
// failed attempts.
func Example() {
	ctx := context.Background()
	const broker = "amqp://guest:guest@localhost:5672/"
	sub, err := mq.OpenSubscription(ctx, broker+"?topic=orders&subscription=payments&max_attempts=5&visibility=1m")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	p, err := mq.OpenProducer(ctx, broker+"?topic=orders")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(ctx)

	// Send returns once the broker confirmed the message.
	if err := p.Send(ctx, &mq.Message{Body: []byte("order 42"), Key: "customer-7"}); err != nil {
		log.Fatal(err)
	}
	c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		fmt.Printf("%s (attempt %d)\n", d.Body, d.Attempt)
		return nil // ack; an error retries with backoff (through a wait queue)
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = c.Run(ctx) }()
	time.Sleep(time.Second)
	_ = c.Shutdown(ctx)
}

// Handles over a connection the application dialed itself, with a
// redial function so that they reconnect after a connection loss.
func ExampleNewSubscription() {
	const broker = "amqp://guest:guest@localhost:5672/"
	conn, err := amqp.Dial(broker)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	redial := func(ctx context.Context) (*amqp.Connection, error) { return amqp.Dial(broker) }
	ds, err := rabbitmq.NewSubscription(conn, "payments", &rabbitmq.SubscriptionOptions{
		Topic: "orders", Lease: time.Minute, MaxAttempts: 5, Redial: redial,
	})
	if err != nil {
		log.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(context.Background())
	fmt.Println(sub.Capabilities())
}

// The native error behind a portmq error.
func ExampleURLOpener_errors() {
	ctx := context.Background()
	_, err := mq.OpenSubscription(ctx, "amqp://guest:guest@localhost:5672/?subscription=amq.reserved")
	var ae *amqp.Error
	if errors.As(err, &ae) {
		fmt.Println(mq.Code(err), ae.Code) // PermissionDenied 403
	}
}
