package gcppubsub_test

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portmq/portmq/drivers/gcppubsub"
	"github.com/portmq/portmq/mq"
)

// A URLOpener with client options, registered on a mux of one's own,
// reaches a particular server; here pstest, Google's in-process fake.
// (With the default mux, PUBSUB_EMULATOR_HOST does the same.)
func Example() {
	ctx := context.Background()
	srv := pstest.NewServer()
	defer srv.Close()

	mux := new(mq.URLMux)
	mux.Register(gcppubsub.Scheme, &gcppubsub.URLOpener{ClientOptions: []option.ClientOption{
		option.WithEndpoint(srv.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}})

	admin, _ := mux.OpenAdmin(ctx, "gcppubsub://projects/my-project")
	defer admin.Close()
	_ = admin.CreateTopic(ctx, "orders", mq.TopicConfig{})
	// Max attempts 5 to 100 become a Pub/Sub dead-letter policy; the
	// dead-letter topic billing-dlq is created with a subscription.
	_ = admin.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{Lease: 30 * time.Second, MaxAttempts: 5})

	p, _ := mux.OpenProducer(ctx, "gcppubsub://projects/my-project/topics/orders")
	defer p.Shutdown(ctx)
	sub, _ := mux.OpenSubscription(ctx, "gcppubsub://projects/my-project/subscriptions/billing")
	defer sub.Shutdown(ctx)

	_ = p.Send(ctx, &mq.Message{Body: []byte("order 1"), Key: "customer-7"})
	d, _ := sub.Receive(ctx)
	fmt.Printf("%s (key %s): attempt %d of %d\n", d.Body, d.Key, d.Attempt, sub.Info().MaxAttempts)
	_ = d.Nack(0)
	d, _ = sub.Receive(ctx)
	fmt.Printf("%s: attempt %d\n", d.Body, d.Attempt)
	_ = d.Ack()
	fmt.Println(sub.Capabilities())
	// Output:
	// order 1 (key customer-7): attempt 1 of 5
	// order 1: attempt 2
	// lease=native nack-delay=native attempts=native dead-letter=native dedup=none ordering=native delay=none seek=native
}
