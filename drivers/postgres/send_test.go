package postgres_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/portmq/portmq/drivers/postgres"
	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

func TestTransactionalSendIsDeliveredAtCommit(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("outbox")
	sub := openSub(t, pool, topic, "relay", nil)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	m := &mq.Message{Body: []byte("order 7 placed"), Attributes: map[string]string{"kind": "order"}, Key: "order-7"}
	if err := postgres.SendSchema(ctx, tx, testSchema, topic, m, &mq.Message{Body: []byte("second")}); err != nil {
		t.Fatal(err)
	}
	if m.ID == "" {
		t.Error("Send set no ID")
	}
	receiveNone(t, sub, 500*time.Millisecond, "a message sent in a transaction not yet committed must not be visible")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := sub.Backlog(ctx); err != nil || n != 2 {
		t.Errorf("Backlog after the commit = %d, %v; want 2", n, err)
	}
	// The commit's notification wakes the waiting Receive.
	for _, want := range []string{"order 7 placed", "second"} {
		d, err := sub.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Body) != want {
			t.Errorf("received %q, want %q", d.Body, want)
		}
		if want == "order 7 placed" && (d.ID != m.ID || d.Key != "order-7" || d.Attributes["kind"] != "order") {
			t.Errorf("received ID %s key %q attrs %v; sent ID %s", d.ID, d.Key, d.Attributes, m.ID)
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTransactionalSendInRolledBackTransactionDeliversNothing(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("outbox")
	sub := openSub(t, pool, topic, "relay", &postgres.SubscriptionOptions{Lease: time.Second})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.SendSchema(ctx, tx, testSchema, topic, &mq.Message{Body: []byte("never")}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A message sent afterwards outside the transaction arrives alone.
	if err := postgres.SendSchema(ctx, pool, testSchema, topic, &mq.Message{Body: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Body) != "after" {
		t.Errorf("received %q, want only the message sent after the rollback", d.Body)
	}
	_ = d.Ack()
	receiveNone(t, sub, 2*time.Second, "the rolled-back message must never be delivered")
}

func TestTransactionalSendChecksInput(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("outbox")
	_ = openSub(t, pool, topic, "relay", nil)
	for name, c := range map[string]struct {
		topic string
		m     *mq.Message
		code  mq.ErrorCode
	}{
		"reserved attribute": {topic, &mq.Message{Attributes: map[string]string{mq.AttrSource: "x"}}, mq.InvalidArgument},
		"missing topic":      {uniqueName("nosuch"), &mq.Message{Body: []byte("x")}, mq.NotFound},
	} {
		if err := postgres.SendSchema(ctx, pool, testSchema, c.topic, c.m); mq.Code(err) != c.code {
			t.Errorf("%s: %v (code %v), want %v", name, err, mq.Code(err), c.code)
		}
	}
	if err := postgres.SendSchema(ctx, nil, testSchema, topic, &mq.Message{}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("nil tx: %v", err)
	}
	if err := postgres.SendSchema(ctx, pool, "Bad-Schema", topic, &mq.Message{}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("bad schema: %v", err)
	}
}

// TestOutboxForwardsToAnotherBroker relays a postgres outbox to a mem://
// topic with mq.Forward.
func TestOutboxForwardsToAnotherBroker(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("outbox")
	outbox := openSub(t, pool, topic, "relay", nil)
	dest := "mem://" + uniqueName("orders")
	broker, err := mq.OpenSubscription(ctx, dest+"/payments")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Shutdown(ctx)
	to, err := mq.OpenProducer(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer to.Shutdown(ctx)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "b", "c"} {
		if err := postgres.SendSchema(ctx, tx, testSchema, topic, &mq.Message{Body: []byte(b), DedupID: "order-" + b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := mq.Forward(ctx, outbox, to, mq.ForwardLimit(3))
	if err != nil || n != 3 {
		t.Fatalf("Forward = %d, %v", n, err)
	}
	for _, want := range []string{"a", "b", "c"} {
		d, err := broker.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Body) != want || d.DedupID != "order-"+want {
			t.Errorf("forwarded %q (DedupID %q), want %q", d.Body, d.DedupID, want)
		}
		_ = d.Ack()
	}
	receiveNone(t, outbox, 500*time.Millisecond, "forwarded outbox rows are acked")
}

// TestBatchKeepsSendOrderInEverySubscription sends batches to a topic
// with several subscriptions and checks that each receives them in send
// order (the send statement numbers each subscription's copies in batch
// order).
func TestBatchKeepsSendOrderInEverySubscription(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("order")
	var subs []*mq.Subscription
	for _, name := range []string{"a", "b", "c"} {
		subs = append(subs, openSub(t, pool, topic, name, nil))
	}
	p := openProducer(t, pool, topic)
	const n = 300
	msgs := make([]*mq.Message, n)
	for i := range msgs {
		msgs[i] = &mq.Message{Body: []byte(strconv.Itoa(i))}
	}
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	for si, s := range subs {
		for i := 0; i < n; {
			ds, err := s.ReceiveBatch(ctx, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if string(d.Body) != strconv.Itoa(i) {
					t.Fatalf("subscription %d: message %d is %q", si, i, d.Body)
				}
				i++
			}
			if err := s.AckBatch(ds); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAckedRowsAreCleanedAfterRetention checks that idle receives delete
// acked rows once the subscription's retention has passed.
func TestAckedRowsAreCleanedAfterRetention(t *testing.T) {
	pool := newPool(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("retain")
	sub := openSub(t, pool, topic, "s", &postgres.SubscriptionOptions{Retention: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	p := openProducer(t, pool, topic)
	m := &mq.Message{Body: []byte("kept a while")}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+testSchema+`.queue WHERE msg_id = $1`, m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d rows right after the ack, want the retained one", n)
	}
	// An idle receive (nothing to deliver) cleans up every poll interval.
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if d, err := sub.Receive(rctx); err == nil {
		t.Fatalf("received %q after the ack", d.Body)
	}
	if n := count(); n != 0 {
		t.Errorf("%d rows 2 s after the ack with a 300 ms retention, want 0", n)
	}
}
