package redis_test

import (
	"context"
	"log"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/mq"
)

// Every replica of a payment service runs this: the Consumers of all
// replicas share one subscription and one idempotency store in Redis, so
// a message sent twice with one DedupID is charged once, whichever
// replicas get the two copies.
func ExampleNewIdempotencyStore() {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "redis://127.0.0.1:6379/0?topic=orders&subscription=payments")
	if err != nil {
		log.Fatal(err)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	store := redis.NewIdempotencyStore(rc, &redis.StoreOptions{Prefix: "payments:idem"})
	c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		return charge(ctx, d.Body)
	}, mq.WithIdempotency(store))
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

func charge(context.Context, []byte) error { return nil }

// Provisioning a topic, a subscription with a dead-letter topic, and
// sending to it.
func ExampleNewAdmin() {
	ctx := context.Background()
	a, err := mq.OpenAdmin(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, "orders", mq.TopicConfig{}); err != nil {
		log.Fatal(err)
	}
	err = a.CreateSubscription(ctx, "orders", "payments", mq.SubscriptionConfig{
		MaxAttempts: 5, DeadLetterTopic: "orders-dlq", Ordered: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "redis://127.0.0.1:6379/0?topic=orders&dedup=10m")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if err := p.Send(ctx, &mq.Message{Body: []byte(`{"order":42}`), Key: "customer-7", DedupID: "order-42"}); err != nil {
		log.Fatal(err)
	}
}
