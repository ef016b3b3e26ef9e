package postgres_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portmq/portmq/mq"
)

// TestHandlesOfOneConnectionStringShareAPool opens many subscriptions of
// one topic through one URL opener (mq's default mux) and has each
// receive: they share one pool and one LISTEN connection. Before, every
// handle opened by URL had a pool of its own plus a LISTEN connection, so
// 30 subscriptions held at least 60 server connections, and about 48
// idle ones filled a server with max_connections 100 ("sorry, too many
// clients already").
func TestHandlesOfOneConnectionStringShareAPool(t *testing.T) {
	app := uniqueName("pool")
	serverURL(t) // skips or fails when the server is absent
	base := withQuery(baseURL(), "schema", testSchema, "application_name", app)
	ctx := ctxFor(t, 2*time.Minute)
	topic := uniqueName("t")
	const n = 30
	subs := make([]*mq.Subscription, n)
	for i := range n {
		var err error
		subs[i], err = mq.OpenSubscription(ctx, withQuery(base, "topic", topic, "subscription", fmt.Sprint("s", i)))
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := mq.OpenProducer(ctx, withQuery(base, "topic", topic))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			d, err := subs[i].Receive(ctx)
			if err == nil {
				err = d.Ack()
			}
			errs[i] = err
		})
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("subscription %d: %v", i, err)
		}
	}
	conns := countConns(t, app)
	// One pool (pgx's default size, max(4, CPUs)) and one LISTEN.
	if limit := max(4, runtime.NumCPU()) + 1; conns > limit {
		t.Errorf("%d subscriptions and a producer of one URL hold %d server connections, want at most %d (one pool and one LISTEN)", n, conns, limit)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The pool closed with the last handle.
	if c := countConns(t, app); c != 0 {
		t.Errorf("after every handle's Shutdown %d connections are left, want 0", c)
	}
}

// countConns counts the server's connections with application name app.
func countConns(t *testing.T, app string) int {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	c, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
