package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

func uniqueName(what string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return what + "-" + hex.EncodeToString(b[:])
}

// openSub opens subscription name of topic on pool (both created if
// absent) in the test schema, shut down when t ends.
func openSub(t testing.TB, pool *pgxpool.Pool, topic, name string, o *postgres.SubscriptionOptions) *mq.Subscription {
	t.Helper()
	if o == nil {
		o = &postgres.SubscriptionOptions{}
	}
	o.Schema = testSchema
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	ds, err := postgres.NewSubscription(context.Background(), pool, topic, name, o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func openProducer(t testing.TB, pool *pgxpool.Pool, topic string) *mq.Producer {
	t.Helper()
	dt, err := postgres.NewTopic(context.Background(), pool, topic, &postgres.Options{Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// receiveNone fails t if sub delivers anything within d.
func receiveNone(t testing.TB, sub *mq.Subscription, d time.Duration, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if m, err := sub.Receive(ctx); err == nil {
		t.Errorf("received %q (%s): %s", m.Body, m.ID, why)
		_ = m.Ack()
	}
}
