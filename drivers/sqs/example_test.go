package sqs_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/mq"
)

// A producer and a consumer of one queue, opened by URL. The region and
// endpoint parameters are optional; credentials come from the AWS SDK's
// default chain.
func Example() {
	ctx := context.Background()
	const url = "sqs://orders?region=eu-west-1"
	p, err := mq.OpenProducer(ctx, url)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if err := p.Send(ctx, &mq.Message{Body: []byte(`{"order": 7}`), Attributes: map[string]string{"kind": "created"}}); err != nil {
		log.Fatal(err)
	}

	s, err := mq.OpenSubscription(ctx, url+"&wait=20s&visibility=30s")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(ctx)
	c, err := mq.NewConsumer(s, func(ctx context.Context, d *mq.Delivery) error {
		fmt.Printf("attempt %d: %s\n", d.Attempt, d.Body)
		return nil // ack; an error nacks with backoff
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = c.Run(ctx) }()
	defer c.Shutdown(ctx)
}

// A subscription on an SDK client of your own, without URLs.
func ExampleOpenSubscription() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	ds, err := sqs.OpenSubscription(ctx, awssqs.NewFromConfig(cfg), "orders", &sqs.SubscriptionOptions{Wait: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	s, err := mq.NewSubscription(ds)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Shutdown(ctx)
	d, err := s.Receive(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(d.Body))
	_ = d.Ack()
}

// Provisioning a queue with a dead-letter queue after 5 attempts.
func ExampleNewAdmin() {
	ctx := context.Background()
	a, err := mq.OpenAdmin(ctx, "sqs://?region=eu-west-1")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "orders", mq.TopicConfig{}); err != nil {
		log.Fatal(err)
	}
	// A queue is its own subscription; this creates orders-dlq too.
	if err := a.CreateSubscription(ctx, "orders", "orders", mq.SubscriptionConfig{Lease: 30 * time.Second, MaxAttempts: 5}); err != nil {
		log.Fatal(err)
	}
}
