package wmportmq_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

// A Watermill Router on portmq, without Watermill's Retry and PoisonQueue
// middlewares: the subscriber backs a nacked message off (Backoff) and the
// subscription dead-letters it at its max_attempts, natively on backends
// that can. The handler reads the attempt from the portmq delivery. Over
// RabbitMQ only the URLs change.
func Example_router() {
	pub, _ := wmportmq.NewPublisher("mem://{topic}", nil)
	defer pub.Close()
	// Subscription "billing" of topic "example-orders", dead-lettering on
	// the third failed attempt into "example-orders.billing.dlq" (mem's
	// default dead-letter topic).
	sub, _ := wmportmq.NewSubscriber("mem://{topic}/{group}?max_attempts=3", &wmportmq.SubscriberConfig{
		ConsumerGroup: "billing",
		Backoff:       mq.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}, // instead of middleware.Retry
		DrainTimeout:  time.Second,                                                        // let handlers finish when the Router closes
	})
	ops, _ := wmportmq.NewSubscriber("mem://{topic}/{group}", &wmportmq.SubscriberConfig{ConsumerGroup: "ops"})
	_ = sub.SubscribeInitialize("example-orders")
	_ = ops.SubscribeInitialize("example-orders.billing.dlq")

	router, _ := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, watermill.NopLogger{})
	router.AddConsumerHandler("billing", "example-orders", sub, func(msg *message.Message) error {
		d, _ := wmportmq.Delivery(msg)
		if string(msg.Payload) == "order-2" {
			fmt.Printf("%s failed (attempt %d)\n", msg.Payload, d.Attempt)
			return errors.New("card declined") // the Router nacks
		}
		fmt.Printf("billed %s (attempt %d)\n", msg.Payload, d.Attempt)
		return nil
	})
	done := make(chan struct{})
	router.AddConsumerHandler("dead-letters", "example-orders.billing.dlq", ops, func(msg *message.Message) error {
		fmt.Printf("dead letter %s from %s after %s attempts\n", msg.Payload, msg.Metadata.Get(mq.AttrSource), msg.Metadata.Get(mq.AttrAttempts))
		close(done)
		return nil
	})
	go func() { _ = router.Run(context.Background()) }()
	<-router.Running()

	_ = pub.Publish("example-orders",
		message.NewMessage(watermill.NewUUID(), []byte("order-1")),
		message.NewMessage(watermill.NewUUID(), []byte("order-2")))
	<-done
	_ = router.Close()
	// Output:
	// billed order-1 (attempt 1)
	// order-2 failed (attempt 1)
	// order-2 failed (attempt 2)
	// order-2 failed (attempt 3)
	// dead letter order-2 from example-orders/billing after 3 attempts
}
