package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 7: idempotency, producer-side where the backend can and
// consumer-side through an IdempotencyStore.

func testProducerDedup(t tb, s *suite) {
	e := setup(t, s, Spec{DedupWindow: time.Minute})
	p := e.producer()
	if !p.Capabilities().Dedup.Has() {
		t.Skipf("capability dedup is none: the backend cannot drop duplicates producer-side (consumer-side idempotency is ConsumerRunsHandlerToSuccessOncePerDedupID)")
	}
	sub := e.sub(0)
	first := e.send(p, &mq.Message{Body: []byte("first"), DedupID: "order-42"})
	dup := e.send(p, &mq.Message{Body: []byte("second"), DedupID: "order-42"})
	other := e.send(p, &mq.Message{Body: []byte("other"), DedupID: "order-43"})
	t.Logf("IDs: first %s, duplicate %s, other %s", first.ID, dup.ID, other.ID)
	want := map[string]bool{"first": true, "other": true}
	for len(want) > 0 {
		d := e.recv(sub, e.tm.patience, "the first message of each DedupID")
		if !want[string(d.Body)] {
			t.Errorf("received %s; want only the first message of each DedupID, once", describe(d))
		}
		delete(want, string(d.Body))
		e.ack(d)
	}
	for _, d := range e.expectNone(sub, e.tm.quiet, "a message whose DedupID was sent within the window must be dropped") {
		e.ack(d)
	}
}

func testConsumerIdempotency(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	const dedupID = "payment-7"
	type call struct {
		id, dedupID string
		failed      bool
	}
	calls := newEvents[call]()
	var failedOnce atomic.Bool
	rc := e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		fail := failedOnce.CompareAndSwap(false, true)
		calls.add(call{d.ID, d.DedupID, fail})
		if fail {
			return errors.New("conformance: first attempt fails")
		}
		return nil
	},
		mq.WithIdempotency(mq.NewMemoryIdempotencyStore(0)),
		mq.WithConcurrency(4),
		mq.WithBackoff(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease / 4}))
	for i := range 3 {
		e.send(p, &mq.Message{Body: []byte(fmt.Sprintf("copy-%d", i)), DedupID: dedupID})
	}
	succeeded := func(cs []call) bool {
		for _, c := range cs {
			if !c.failed {
				return true
			}
		}
		return false
	}
	if !calls.waitFor(e.ctx(), e.tm.patience, succeeded) {
		t.Fatalf("handler never succeeded within %v; calls: %+v", e.tm.patience, calls.snapshot())
	}
	// Let retries of the copies run out: they must all be skipped.
	calls.waitFor(e.ctx(), e.tm.quiet, func(cs []call) bool { return len(cs) > 2 })
	cs := calls.snapshot()
	var ok, failed int
	for _, c := range cs {
		if c.dedupID != dedupID {
			t.Errorf("handler saw DedupID %q, sent %q", c.dedupID, dedupID)
		}
		if c.failed {
			failed++
		} else {
			ok++
		}
	}
	if ok != 1 || failed != 1 || len(cs) != 2 || !cs[0].failed {
		t.Errorf("handler calls %+v; want one failure, then exactly one success for DedupID %q", cs, dedupID)
	}
	st := rc.Stats()
	t.Logf("consumer stats: %+v", st)
	if st.Acked != 1 {
		t.Errorf("consumer acked %d messages after a successful handler, want 1", st.Acked)
	}
	ctx, cancel := e.within(e.tm.shutdown)
	err := rc.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Consumer.Shutdown: %v", err)
	}
	// Every copy was acked (run or skipped as a duplicate); none is left.
	for _, d := range e.expectNone(sub, e.tm.quiet, "every copy must have been acked, run or skipped") {
		e.ack(d)
	}
}
