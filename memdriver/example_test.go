package memdriver_test

import (
	"context"
	"fmt"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq/driver"
)

// An Engine on a clock.Fake makes lease expiry and dead-lettering testable
// without sleeping.
func Example() {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	e := memdriver.New(&memdriver.Options{Clock: clk})

	sub, _ := e.OpenSubscription("orders", "billing", &driver.SubscriptionConfig{Lease: 10 * time.Second, MaxAttempts: 2}, nil)
	defer sub.Close()
	dlq, _ := e.OpenSubscription("orders.billing.dlq", "dlq", nil, nil)
	defer dlq.Close()
	topic, _ := e.OpenTopic("orders", nil)
	defer topic.Close()

	_ = topic.SendBatch(ctx, []driver.Message{{Body: []byte("order 1")}})

	dst := make([]driver.Message, 1)
	for range 2 {
		sub.ReceiveBatch(ctx, dst)
		fmt.Printf("%s: attempt %d\n", dst[0].Body, dst[0].Attempt)
		clk.Advance(10 * time.Second) // the lease ends
	}
	dlq.ReceiveBatch(ctx, dst)
	fmt.Printf("dead letter %s: %s\n", dst[0].Body, dst[0].Attributes[driver.AttrDeadLetterReason])
	// Output:
	// order 1: attempt 1
	// order 1: attempt 2
	// dead letter order 1: lease expired after max attempts (2)
}

// Emulation makes a handle declare capabilities as missing, so that mq's
// emulation of them runs against a real engine.
func ExampleSubscriptionOptions() {
	e := memdriver.New(nil)
	sub, _ := e.OpenSubscription("t", "s", nil, &memdriver.SubscriptionOptions{Emulate: memdriver.EmulateLease | memdriver.EmulateNackDelay})
	defer sub.Close()
	fmt.Println(sub.Capabilities())
	// Output:
	// lease=none nack-delay=none attempts=native dead-letter=native dedup=native ordering=native delay=native seek=native
}
