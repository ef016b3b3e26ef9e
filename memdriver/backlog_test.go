package memdriver_test

import (
	"context"
	"testing"

	"github.com/portmq/portmq/mq"
)

// Backlog counts what waits: ready, delayed and behind a busy key, not
// what is leased.
func TestBacklogCountsWaitingMessages(t *testing.T) {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "mem://backlog/s?ordered=true")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(ctx)
	p, err := mq.OpenProducer(ctx, "mem://backlog")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	for _, m := range []*mq.Message{{Key: "a"}, {Key: "a"}, {Key: "b"}, {Delay: 1e12}} {
		if err := p.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sub.Backlog(ctx); err != nil || n != 4 {
		t.Fatalf("Backlog = %d, %v; want 4", n, err)
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Ack()
	// The Subscription fetched ahead what was ready (a's head and b); a's
	// second waits behind its key, and the delayed one waits.
	if n, err := sub.Backlog(ctx); err != nil || n != 2 {
		t.Errorf("Backlog after a receive = %d, %v; want 2", n, err)
	}
}
