package postgres_test

import (
	"context"
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

// Exactly-once effects: the handler's INSERT, the completion of the
// message's idempotency key and (the subscription being on the same
// database) its ack commit in one transaction. The subscription could as
// well be on Kafka, SQS or RabbitMQ: the key then makes the redelivery of
// a handled message a no-op.
func Example_exactlyOnceEffects() {
	ctx := context.Background()
	db := "postgres://postgres@127.0.0.1:5432/test"
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS payments (order_id text PRIMARY KEY, amount text)`); err != nil {
		log.Fatal(err)
	}
	sub, err := mq.OpenSubscription(ctx, db+"?topic=orders&subscription=payments&max_attempts=5")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	store, err := postgres.NewIdempotencyStore(pool, nil)
	if err != nil {
		log.Fatal(err)
	}
	pay := postgres.TxHandler(pool, store, func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error {
		_, err := tx.Exec(ctx, `INSERT INTO payments VALUES ($1, $2)`, d.DedupID, d.Attributes["amount"])
		return err // an error rolls back; the Consumer retries with backoff
	})
	c, err := mq.NewConsumer(sub, pay, mq.WithIdempotency(store))
	if err != nil {
		log.Fatal(err)
	}
	go c.Run(ctx)
	defer c.Shutdown(ctx)

	// The order service records the order and announces it in one
	// transaction (the outbox): the message exists exactly when the
	// order does.
	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// ... INSERT INTO orders ... through tx
	if err := postgres.Send(ctx, tx, "orders", &mq.Message{DedupID: "order-42", Attributes: map[string]string{"amount": "9.90"}}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
}

// The outbox relayed to a broker: each message is acked in PostgreSQL
// only after the broker confirmed it.
func Example_outboxForward() {
	ctx := context.Background()
	outbox, err := mq.OpenSubscription(ctx, "postgres://postgres@127.0.0.1:5432/test?topic=orders&subscription=relay")
	if err != nil {
		log.Fatal(err)
	}
	defer outbox.Shutdown(ctx)
	broker, err := mq.OpenProducer(ctx, "amqp://guest:guest@127.0.0.1:5672/?topic=orders")
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Shutdown(ctx)
	n, err := mq.Forward(ctx, outbox, broker, mq.ForwardBatch(100))
	log.Printf("forwarded %d messages: %v", n, err)
}
