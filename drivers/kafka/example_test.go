package kafka_test

import (
	"context"
	"errors"
	"log"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/drivers/kafka"
	"github.com/portmq/portmq/mq"
)

// Consume a topic in a consumer group with a lease, retries through the
// retry topic, and a dead-letter topic after five attempts.
func Example() {
	ctx := context.Background()
	p, err := mq.OpenProducer(ctx, "kafka://localhost:9092/orders")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if err := p.Send(ctx, &mq.Message{Body: []byte(`{"order":42}`), Key: "customer-7"}); err != nil {
		log.Fatal(err)
	}

	sub, err := mq.OpenSubscription(ctx, "kafka://localhost:9092/orders?subscription=billing&lease=1m&max_attempts=5")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		log.Printf("order %s (attempt %d)", d.Body, d.Attempt)
		return nil // ack; an error retries with backoff, then dead-letters
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// Open handles on a franz-go client of your own, in share-group mode.
func ExampleOpenSubscription() {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers("localhost:9092"))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ds, err := kafka.OpenSubscription(ctx, cl, "orders", "billing", &kafka.SubscriptionOptions{
		Mode:        kafka.ShareMode,
		MaxAttempts: 4, // below the group's share.delivery.count.limit
	})
	if err != nil {
		log.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	d, err := sub.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var rec *kgo.Record
	if d.As(&rec) {
		log.Printf("partition %d offset %d, delivery %d", rec.Partition, rec.Offset, rec.DeliveryCount())
	}
	_ = d.Ack()
}
