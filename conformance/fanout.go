package conformance

import (
	"context"
	"fmt"
	"sync"

	"github.com/portmq/portmq/mq"
)

// Rule 9: fan-out to subscriptions, competition within one.

func testFanOut(t tb, s *suite) {
	e := setup(t, s, Spec{Subscriptions: 2})
	p := e.producer()
	subs := []*mq.Subscription{e.sub(0), e.sub(1)}
	sent := map[string]bool{}
	for i := range 5 {
		sent[e.sendBody(p, fmt.Sprintf("fan-%d", i)).ID] = true
	}
	for i, sub := range subs {
		want := make(map[string]bool, len(sent))
		for id := range sent {
			want[id] = true
		}
		for len(want) > 0 {
			d := e.recv(sub, e.tm.patience, fmt.Sprintf("the %d messages still missing on subscription %d", len(want), i))
			if !want[d.ID] {
				t.Errorf("subscription %d received %s, which was not sent or was received already", i, describe(d))
			}
			delete(want, d.ID)
			e.ack(d)
		}
	}
	for i, sub := range subs {
		e.expectNone(sub, e.tm.quiet/2, fmt.Sprintf("subscription %d acked every message and must get nothing more", i))
	}
}

func testCompetition(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p := e.producer()
	// Two handles on one subscription, fetching one message at a time so
	// that they really compete.
	handles := []*mq.Subscription{e.sub(0, mq.WithPrefetch(1)), e.sub(0, mq.WithPrefetch(1))}
	type got struct {
		handle int
		id     string
	}
	received := newEvents[got]()
	ctx, stop := context.WithCancel(e.ctx())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for i, h := range handles {
		wg.Go(func() {
			for {
				d, err := h.Receive(ctx)
				if err != nil {
					return
				}
				received.add(got{i, d.ID})
				if err := d.Ack(); err != nil {
					t.Errorf("handle %d: Ack of %s: %v", i, describe(d), err)
				}
			}
		})
	}
	const n = 20
	sent := map[string]bool{}
	for i := range n {
		sent[e.sendBody(p, fmt.Sprintf("share-%d", i)).ID] = true
	}
	if !received.waitFor(e.ctx(), e.tm.patience, func(g []got) bool { return len(g) >= n }) {
		t.Errorf("the two handles received %d of %d messages within %v", len(received.snapshot()), n, e.tm.patience)
	}
	// Watch a while longer for a message delivered to both.
	received.waitFor(e.ctx(), e.tm.quiet, func(g []got) bool { return len(g) > n })
	stop()
	wg.Wait()
	per := [2]int{}
	seen := map[string]int{}
	for _, g := range received.snapshot() {
		per[g.handle]++
		if !sent[g.id] {
			t.Errorf("handle %d received message %s, which was not sent", g.handle, g.id)
		}
		if prev, dup := seen[g.id]; dup {
			t.Errorf("message %s was delivered to handle %d and again to handle %d", g.id, prev, g.handle)
		}
		seen[g.id] = g.handle
	}
	if len(seen) != n {
		t.Errorf("%d distinct messages received, sent %d", len(seen), n)
	}
	t.Logf("messages per handle: %v", per)
}
