package mq_test

import (
	"context"
	"fmt"
	"time"

	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

func Example() {
	ctx := context.Background()
	// Open the subscription first: it receives what is sent after it exists.
	sub, err := mq.OpenSubscription(ctx, "mem://example-orders/payments?max_attempts=5")
	if err != nil {
		panic(err)
	}
	p, err := mq.OpenProducer(ctx, "mem://example-orders")
	if err != nil {
		panic(err)
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("order 1"), Attributes: map[string]string{"currency": "EUR"}}); err != nil {
		panic(err)
	}

	done := make(chan struct{})
	c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		fmt.Printf("paid %s in %s (attempt %d)\n", d.Body, d.Attributes["currency"], d.Attempt)
		close(done)
		return nil // ack
	}, mq.WithConcurrency(4))
	if err != nil {
		panic(err)
	}
	go c.Run(ctx)
	<-done

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = c.Shutdown(sctx)
	_ = sub.Shutdown(sctx)
	_ = p.Shutdown(sctx)
	// Output: paid order 1 in EUR (attempt 1)
}
