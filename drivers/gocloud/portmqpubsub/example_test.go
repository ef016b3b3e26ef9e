package portmqpubsub_test

import (
	"context"
	"fmt"

	"gocloud.dev/pubsub"

	_ "github.com/portmq/portmq/drivers/gocloud/portmqpubsub"
	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

// A Go CDK application on portmq: only the URLs change. Nack redelivers
// with the attempt counted, and max_attempts dead-letters.
func Example() {
	ctx := context.Background()
	// Before: pubsub.OpenTopic(ctx, "mem://orders") with mempubsub.
	topic, err := pubsub.OpenTopic(ctx, "portmq+mem://example-orders")
	if err != nil {
		panic(err)
	}
	defer topic.Shutdown(ctx)
	sub, err := pubsub.OpenSubscription(ctx, "portmq+mem://example-orders/billing?max_attempts=2")
	if err != nil {
		panic(err)
	}
	defer sub.Shutdown(ctx)

	if err := topic.Send(ctx, &pubsub.Message{Body: []byte("order 1")}); err != nil {
		panic(err)
	}
	for range 2 {
		m, err := sub.Receive(ctx)
		if err != nil {
			panic(err)
		}
		var d *mq.Delivery
		if m.As(&d) {
			fmt.Printf("%s, attempt %d\n", m.Body, d.Attempt)
		}
		m.Nack()
	}
	dlq, err := pubsub.OpenSubscription(ctx, "portmq+mem://example-orders.billing.dlq/dlq")
	if err != nil {
		panic(err)
	}
	defer dlq.Shutdown(ctx)
	m, err := dlq.Receive(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("dead letter %s: %s\n", m.Body, m.Metadata[mq.AttrDeadLetterReason])
	m.Ack()
	// Output:
	// order 1, attempt 1
	// order 1, attempt 2
	// dead letter order 1: max attempts (2) reached
}
