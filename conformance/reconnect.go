package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 15: a broker restart loses no acknowledged send and stops no
// consumer for good.

func testReconnect(t tb, s *suite) {
	if s.h.Restart == nil {
		t.Skipf("harness cannot restart its broker (Harness.Restart is nil)")
	}
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	handled := newEvents[string]()
	e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		handled.add(d.ID)
		return nil
	}, mq.WithBackoff(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease}))

	sent := map[string]bool{}
	retried := 0
	send := func(body string) {
		m := &mq.Message{Body: []byte(body)}
		deadline := time.Now().Add(2 * e.tm.patience)
		for try := 1; ; try++ {
			ctx, cancel := e.within(e.tm.patience)
			err := p.Send(ctx, m)
			cancel()
			if err == nil {
				sent[m.ID] = true
				return
			}
			retried++
			if !mq.IsRetryable(err) || time.Now().After(deadline) {
				t.Fatalf("Send(%q), try %d: %v (retryable: %v)", body, try, err, mq.IsRetryable(err))
			}
			pause := time.NewTimer(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease}.Delay(try))
			select {
			case <-pause.C:
			case <-e.ctx().Done():
				pause.Stop()
				t.Fatalf("case ended while retrying Send: %v", e.ctx().Err())
			}
		}
	}
	const n = 10
	for i := range n {
		send(fmt.Sprintf("before-restart-%d", i))
	}
	ctx, cancel := e.within(e.tm.shutdown)
	err := s.h.Restart(ctx)
	cancel()
	if err != nil {
		t.Fatalf("Harness.Restart: %v", err)
	}
	for i := range n {
		send(fmt.Sprintf("after-restart-%d", i))
	}
	t.Logf("%d sends failed with a retryable error and were retried", retried)
	all := func(ids []string) bool {
		got := map[string]bool{}
		for _, id := range ids {
			got[id] = true
		}
		for id := range sent {
			if !got[id] {
				return false
			}
		}
		return true
	}
	if !handled.waitFor(e.ctx(), 3*e.tm.patience, all) {
		got := map[string]bool{}
		for _, id := range handled.snapshot() {
			got[id] = true
		}
		missing := 0
		for id := range sent {
			if !got[id] {
				missing++
			}
		}
		t.Errorf("%d of %d acknowledged sends were not handled within %v of the restart", missing, len(sent), 3*e.tm.patience)
	}
}
