package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 8: per-key ordering on ordered subscriptions.

func orderedEnv(t tb, s *suite) (*env, *mq.Producer, *mq.Subscription) {
	t.Helper()
	e := setup(t, s, Spec{Ordered: true})
	p, sub := e.producer(), e.sub(0)
	if !sub.Capabilities().Ordering.Has() {
		t.Skipf("capability ordering is none: the backend cannot deliver a key's messages in order")
	}
	if !sub.Info().Ordered {
		t.Fatalf("harness provisioned an unordered subscription; the case asked for Ordered")
	}
	return e, p, sub
}

func testOrderPerKey(t tb, s *suite) {
	e, p, sub := orderedEnv(t, s)
	const keys, perKey = 3, 10
	for i := range perKey {
		for k := range keys {
			e.send(p, &mq.Message{Body: []byte(fmt.Sprintf("%d/%d", k, i)), Key: fmt.Sprintf("key-%d", k)})
		}
	}
	type got struct{ key, seq int }
	handled := newEvents[got]()
	var mu sync.Mutex
	busy := map[string]bool{}
	e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		mu.Lock()
		if busy[d.Key] {
			t.Errorf("two handlers ran at once for key %q (one: %s)", d.Key, describe(d))
		}
		busy[d.Key] = true
		mu.Unlock()
		// Some work (up to 1 % of a lease), so that the Consumer's
		// handlers overlap.
		work(ctx, time.Duration(rand.Int64N(int64(e.tm.lease/100)+1)))
		var k, i int
		if _, err := fmt.Sscanf(string(d.Body), "%d/%d", &k, &i); err != nil {
			t.Errorf("unexpected %s", describe(d))
		}
		handled.add(got{k, i})
		mu.Lock()
		busy[d.Key] = false
		mu.Unlock()
		return nil
	}, mq.WithConcurrency(4))
	total := keys * perKey
	distinct := func(g []got) int {
		seen := map[got]bool{}
		for _, x := range g {
			seen[x] = true
		}
		return len(seen)
	}
	if !handled.waitFor(e.ctx(), e.tm.patience, func(g []got) bool { return distinct(g) >= total }) {
		t.Fatalf("handled %d of %d messages within %v", distinct(handled.snapshot()), total, e.tm.patience)
	}
	next := make([]int, keys)
	for _, g := range handled.snapshot() {
		if g.key < 0 || g.key >= keys {
			continue
		}
		switch g.seq {
		case next[g.key]:
			next[g.key]++
		case next[g.key] - 1:
			// The last message of the key again, before the next one:
			// at-least-once allows it when its ack did not reach the
			// backend in time, and the order holds.
			t.Logf("key-%d: message %d handled again (a redelivery)", g.key, g.seq)
		default:
			t.Errorf("key-%d: handled message %d when %d was next in send order (handled: %v)", g.key, g.seq, next[g.key], handled.snapshot())
			return
		}
	}
}

func testNackBlocksKey(t tb, s *suite) {
	e, p, sub := orderedEnv(t, s)
	attempts := sub.Capabilities().Attempts.Has()
	for _, m := range []struct{ body, key string }{{"a0", "a"}, {"a1", "a"}, {"b0", "b"}, {"b1", "b"}} {
		e.send(p, &mq.Message{Body: []byte(m.body), Key: m.key})
	}
	delay := 2 * e.tm.lease
	var nackedAt, a0Back, bDone time.Time
	acked := map[string]bool{}
	for len(acked) < 4 {
		d := e.recv(sub, e.tm.patience+delay, fmt.Sprintf("the remaining messages (acked so far: %v)", acked))
		body := string(d.Body)
		switch {
		case acked[body]:
			t.Errorf("received %s again after it was acked", describe(d))
			continue
		case body == "a0" && nackedAt.IsZero():
			if err := d.Nack(delay); err != nil {
				t.Fatalf("Nack(%v): %v", delay, err)
			}
			nackedAt = time.Now()
			continue
		case body == "a0":
			a0Back = time.Now()
			if attempts && d.Attempt != 2 {
				t.Errorf("redelivery of a0 has Attempt %d, want 2", d.Attempt)
			}
		case body == "a1" && !acked["a0"]:
			t.Errorf("a1 was delivered while a0, sent before it with the same key, was nacked and not yet acked")
		case body == "b1" && !acked["b0"]:
			t.Errorf("b1 was delivered before b0 was acked")
		}
		if err := d.Ack(); err != nil {
			t.Fatalf("Ack of %s: %v", describe(d), err)
		}
		acked[body] = true
		if acked["b0"] && acked["b1"] && bDone.IsZero() {
			bDone = time.Now()
		}
	}
	if !a0Back.IsZero() && bDone.After(a0Back) {
		t.Errorf("key b finished only after a0 came back from its %v nack delay: a nacked message must block its own key only", delay)
	}
}

// work stands for a handler's work of d: it returns after d, or when ctx
// ends.
func work(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
