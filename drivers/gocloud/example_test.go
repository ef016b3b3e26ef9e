package gocloud_test

import (
	"context"
	"fmt"

	_ "github.com/portmq/portmq/drivers/gocloud"
	"github.com/portmq/portmq/mq"
)

// A Go CDK backend behind portmq's API: mq counts attempts (by
// republishing nacked messages) and dead-letters, which the Go CDK cannot.
func Example() {
	ctx := context.Background()
	// Opening a subscription creates it; it gets what is sent afterwards.
	sub, err := mq.OpenSubscription(ctx, "gocloud+mem://example-orders?name=billing&max_attempts=2&dead_letter=mem://example-orders-dlq")
	if err != nil {
		panic(err)
	}
	defer sub.Shutdown(ctx)
	dlq, err := mq.OpenSubscription(ctx, "gocloud+mem://example-orders-dlq?name=dlq")
	if err != nil {
		panic(err)
	}
	defer dlq.Shutdown(ctx)
	p, err := mq.OpenProducer(ctx, "gocloud+mem://example-orders")
	if err != nil {
		panic(err)
	}
	defer p.Shutdown(ctx)

	if err := p.Send(ctx, &mq.Message{Body: []byte("order 1"), Key: "customer-7"}); err != nil {
		panic(err)
	}
	for range 2 {
		d, err := sub.Receive(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s (key %s), attempt %d\n", d.Body, d.Key, d.Attempt)
		_ = d.Nack(0)
	}
	d, err := dlq.Receive(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("dead letter %s: %s\n", d.Body, d.Attributes[mq.AttrDeadLetterReason])
	_ = d.Ack()
	// Output:
	// order 1 (key customer-7), attempt 1
	// order 1 (key customer-7), attempt 2
	// dead letter order 1: max attempts (2) reached
}
