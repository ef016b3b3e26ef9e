package rabbitmq_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// Many goroutines share a small window: every send is confirmed, none
// waits forever on slots another holds.
func TestConcurrentSendsShareTheWindow(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 2*time.Minute)
	topic := uniqueName(t, "window")
	q := topic + ".q"
	t.Cleanup(func() { deleteSubscription(t, topic, q) })
	s, err := mq.OpenSubscription(ctx, withQuery(t, base, "topic", topic, "subscription", q))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	p, err := mq.OpenProducer(ctx, withQuery(t, base, "topic", topic, "max_in_flight", "4"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	const senders, each = 8, 25
	var wg sync.WaitGroup
	ids := make(chan string, senders*each*6)
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if g%2 == 0 && i%5 == 0 {
					batch := []*mq.Message{{Body: []byte("b1")}, {Body: []byte("b2")}, {Body: []byte("b3")}, {Body: []byte("b4")}, {Body: []byte("b5")}, {Body: []byte("b6")}}
					if err := p.SendBatch(ctx, batch); err != nil {
						t.Errorf("SendBatch: %v", err)
						return
					}
					for _, m := range batch {
						ids <- m.ID
					}
					continue
				}
				m := &mq.Message{Body: []byte("x")}
				if err := p.Send(ctx, m); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
				ids <- m.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		if want[id] {
			t.Fatalf("ID %s given twice", id)
		}
		want[id] = true
	}
	for len(want) > 0 {
		d, err := s.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive with %d messages missing: %v", len(want), err)
		}
		if !want[d.ID] {
			t.Errorf("unexpected or repeated message %s", d.ID)
		}
		delete(want, d.ID)
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}
