package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

// TestHandlesOfOnePoolShareOneListenConnection checks that the
// subscription handles of one pool keep one LISTEN connection between
// them, not one each.
func TestHandlesOfOnePoolShareOneListenConnection(t *testing.T) {
	serverURL(t)
	app := appName + "-listen"
	cfg, err := pgxpool.ParseConfig(baseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx := ctxFor(t, 20*time.Second)
	topic := uniqueName("share")
	subs := make([]*mq.Subscription, 4)
	for i := range subs {
		subs[i] = openSub(t, pool, topic, fmt.Sprint("s", i%2), nil)
	}
	// Counted through a pool of another application name.
	check := newPool(t)
	listening := func() int {
		var n int
		if err := check.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The listener dials in the background: wait until it listens (ctx
	// bounds the wait; nothing is asserted about time).
	for listening() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no LISTEN connection")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := listening(); n != 1 {
		t.Fatalf("%d LISTEN connections for 4 handles of one pool, want 1", n)
	}
	// Shutting the handles down stops the listener (goleak checks that
	// its goroutine ended).
	for _, s := range subs {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEveryWaitingReceiveIsWokenByASend checks that a notification wakes
// one waiting receive without losing the others' wakes: receives waiting
// on several handles of one subscription each get one of as many
// messages, sent one per statement, with an hour of poll interval, so
// that only notifications can wake them in time.
func TestEveryWaitingReceiveIsWokenByASend(t *testing.T) {
	pool := newPool(t)
	topic := uniqueName("wakeone")
	const handles, perHandle = 4, 2
	// Prefetch 1: a handle buffers no message that only its own
	// receives could take.
	var subs []*mq.Subscription
	for range handles {
		ds, err := postgres.NewSubscription(context.Background(), pool, topic, "s", &postgres.SubscriptionOptions{Options: postgres.Options{Schema: testSchema}, PollInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s, err := mq.NewSubscription(ds, mq.WithPrefetch(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		subs = append(subs, s)
	}
	p := openProducer(t, pool, topic)
	ctx := ctxFor(t, 30*time.Second)
	got := make(chan error, handles*perHandle)
	for _, s := range subs {
		for range perHandle {
			go func() {
				d, err := s.Receive(ctx)
				if err == nil {
					err = d.Ack()
				}
				got <- err
			}()
		}
	}
	for i := range handles * perHandle {
		if err := p.Send(ctx, &mq.Message{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for range handles * perHandle {
		if err := <-got; err != nil {
			t.Fatalf("Receive: %v (a wake was lost)", err)
		}
	}
}
