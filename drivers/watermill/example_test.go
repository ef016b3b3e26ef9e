package watermill_test

import (
	"context"
	"fmt"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/portmq/portmq/drivers/watermill"
	"github.com/portmq/portmq/mq"
)

// A Watermill GoChannel behind portmq's API, registered on a mux of its
// own: mq holds a delayed Nack (Watermill's Nack has no delay) and
// DeadLetter publishes to the dead_letter topic.
func Example() {
	ctx := context.Background()
	g := gochannel.NewGoChannel(gochannel.Config{}, wm.NopLogger{})
	defer g.Close()
	mux := new(mq.URLMux)
	mux.Register("watermill+example", watermill.NewOpener(watermill.GoChannel(g)))

	// Subscriptions first: a GoChannel drops what nobody subscribed to.
	dlq, _ := mux.OpenSubscription(ctx, "watermill+example://orders.dlq?subscription=ops")
	defer dlq.Shutdown(ctx)
	sub, _ := mux.OpenSubscription(ctx, "watermill+example://orders?subscription=billing&visibility=1m&dead_letter=orders.dlq")
	defer sub.Shutdown(ctx)
	p, _ := mux.OpenProducer(ctx, "watermill+example://orders")
	defer p.Shutdown(ctx)

	_ = p.Send(ctx, &mq.Message{Body: []byte("order 1"), Key: "customer-7"})
	d, _ := sub.Receive(ctx)
	fmt.Printf("%s for %s\n", d.Body, d.Key)
	start := time.Now()
	_ = d.Nack(200 * time.Millisecond)
	d, _ = sub.Receive(ctx)
	fmt.Printf("%s again, not before the delay: %v\n", d.Body, time.Since(start) >= 200*time.Millisecond)
	_ = d.DeadLetter("card declined")
	dl, _ := dlq.Receive(ctx)
	fmt.Printf("dead letter %s from %s: %s\n", dl.Body, dl.Attributes[mq.AttrSource], dl.Attributes[mq.AttrDeadLetterReason])
	_ = dl.Ack()
	// Output:
	// order 1 for customer-7
	// order 1 again, not before the delay: true
	// dead letter order 1 from billing: card declined
}
