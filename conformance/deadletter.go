package conformance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/portmq/portmq/mq"
)

// Rule 6: dead-lettering after max attempts, and on request.

const maxAttempts = 3

// deadLetterEnv provisions a subscription with MaxAttempts and a dead-letter
// destination and checks that the backend (or mq on top of it) can count
// attempts toward dead-lettering.
// countsAttempts says whether the case needs attempts counted toward
// MaxAttempts; a case that dead-letters on request (DeadLetter, a
// permanent error) runs wherever there is a dead-letter destination, which
// mq feeds itself when the backend cannot.
func deadLetterEnv(t tb, s *suite, countsAttempts bool) (*env, *mq.Producer, *mq.Subscription, *mq.Subscription) {
	t.Helper()
	e := setup(t, s, Spec{MaxAttempts: maxAttempts, DeadLetter: true})
	p, sub := e.producer(), e.sub(0)
	caps, info := sub.Capabilities(), sub.Info()
	if !countsAttempts {
		if !info.HasDeadLetter {
			t.Fatalf("harness provisioned no dead-letter destination; the case asked for one")
		}
		return e, p, sub, e.deadLetters()
	}
	if !caps.DeadLetter.Has() && !caps.Attempts.Has() {
		t.Skipf("capabilities dead-letter and attempts are none: neither the backend nor mq can count attempts toward dead-lettering")
	}
	if info.MaxAttempts != maxAttempts || !info.HasDeadLetter {
		t.Fatalf("harness provisioned MaxAttempts %d, dead letter %v; the case asked for %d and a dead-letter destination", info.MaxAttempts, info.HasDeadLetter, maxAttempts)
	}
	return e, p, sub, e.deadLetters()
}

var deadLetterAttrs = map[string]string{"origin": "conformance", "ключ": "значение ✓"}

// checkDeadLetter checks that dl carries sent's body and attributes and the
// portmq metadata; attempts 0 skips the attempt count.
func checkDeadLetter(t tb, dl *mq.Delivery, sent *mq.Message, attempts int, reason string) {
	t.Helper()
	t.Logf("dead letter: %s=%q %s=%q %s=%q", mq.AttrDeadLetterReason, dl.Attributes[mq.AttrDeadLetterReason],
		mq.AttrAttempts, dl.Attributes[mq.AttrAttempts], mq.AttrSource, dl.Attributes[mq.AttrSource])
	if string(dl.Body) != string(sent.Body) {
		t.Errorf("dead letter has body %q, want %q", dl.Body, sent.Body)
	}
	for k, v := range sent.Attributes {
		if got, ok := dl.Attributes[k]; !ok || got != v {
			t.Errorf("dead letter attribute %q = %q (present %v), want %q", k, got, ok, v)
		}
	}
	r := dl.Attributes[mq.AttrDeadLetterReason]
	switch {
	case r == "":
		t.Errorf("dead letter has no %s attribute; attributes: %v", mq.AttrDeadLetterReason, dl.Attributes)
	case !strings.Contains(r, reason):
		t.Errorf("dead letter reason %q does not contain %q", r, reason)
	}
	if attempts > 0 {
		if got := dl.Attributes[mq.AttrAttempts]; got != strconv.Itoa(attempts) {
			t.Errorf("dead letter has %s = %q, want %q (reason %q)", mq.AttrAttempts, got, strconv.Itoa(attempts), r)
		}
	}
	if dl.Attributes[mq.AttrSource] == "" {
		t.Errorf("dead letter has no %s attribute; attributes: %v", mq.AttrSource, dl.Attributes)
	}
}

// checkAttempt checks that d is delivery attempt i of m (the count only
// where the backend or mq counts attempts).
func checkAttempt(t tb, d *mq.Delivery, m *mq.Message, i int, caps mq.Capabilities) {
	t.Helper()
	if d.ID != m.ID {
		t.Fatalf("received %s, want attempt %d of %s", describe(d), i, m.ID)
	}
	if caps.Attempts.Has() && d.Attempt != i {
		t.Errorf("delivery has Attempt %d, want %d", d.Attempt, i)
	}
}

func testDeadLetterByNacks(t tb, s *suite) {
	e, p, sub, dlq := deadLetterEnv(t, s, true)
	caps := sub.Capabilities()
	m := e.send(p, &mq.Message{Body: []byte("poison-nack"), Attributes: deadLetterAttrs})
	for i := 1; i <= maxAttempts; i++ {
		d := e.recv(sub, e.tm.patience, fmt.Sprintf("delivery attempt %d", i))
		checkAttempt(t, d, m, i, caps)
		if err := d.Nack(0); err != nil {
			t.Fatalf("Nack(0) of attempt %d: %v", i, err)
		}
	}
	dl := e.recv(dlq, e.tm.patience, "the message in the dead-letter destination after "+strconv.Itoa(maxAttempts)+" nacks")
	checkDeadLetter(t, dl, m, maxAttempts, "")
	e.ack(dl)
	e.expectNone(sub, e.tm.quiet, "a dead-lettered message must leave its subscription")
}

func testDeadLetterByExpiry(t tb, s *suite) {
	e, p, sub, dlq := deadLetterEnv(t, s, true)
	caps := sub.Capabilities()
	m := e.send(p, &mq.Message{Body: []byte("poison-expire"), Attributes: deadLetterAttrs})
	for i := 1; i <= maxAttempts; i++ {
		d := e.recv(sub, e.tm.patience, fmt.Sprintf("delivery attempt %d (earlier leases left to expire)", i))
		checkAttempt(t, d, m, i, caps)
		// Not settled: the lease ends.
	}
	awaitDeadLetter(e, sub, dlq, m, fmt.Sprintf("%d expired leases", maxAttempts))
}

// awaitDeadLetter waits for m in the dead-letter destination while it keeps
// receiving from sub (a backend, or mq's emulation, may count the last
// failure only when the subscription is read again) and reports any
// delivery there as an error, until a quiet window after the dead letter.
func awaitDeadLetter(e *env, sub, dlq *mq.Subscription, m *mq.Message, after string) {
	t := e.t
	t.Helper()
	wctx, stop := context.WithCancel(e.ctx())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			d, err := sub.Receive(wctx)
			if err != nil {
				return
			}
			t.Errorf("delivered again after %s: %s", after, describe(d))
		}
	})
	defer wg.Wait()
	defer stop()
	dl := e.recv(dlq, e.tm.patience, "the message in the dead-letter destination after "+after)
	checkDeadLetter(t, dl, m, maxAttempts, "")
	e.ack(dl)
	ctx, cancel := e.within(e.tm.quiet)
	defer cancel()
	<-ctx.Done() // the watcher above reports any redelivery meanwhile
}

func testDeadLetterByClose(t tb, s *suite) {
	// A long lease: only closing the handles can end these deliveries in
	// time.
	e := setup(t, s, Spec{MaxAttempts: maxAttempts, DeadLetter: true, Lease: 10 * s.tm.lease})
	p, sub := e.producer(), e.sub(0)
	caps, info := sub.Capabilities(), sub.Info()
	if !caps.DeadLetter.Has() && !caps.Attempts.Has() {
		t.Skipf("capabilities dead-letter and attempts are none: neither the backend nor mq can count attempts toward dead-lettering")
	}
	if info.MaxAttempts != maxAttempts || !info.HasDeadLetter {
		t.Fatalf("harness provisioned MaxAttempts %d, dead letter %v; the case asked for %d and a dead-letter destination", info.MaxAttempts, info.HasDeadLetter, maxAttempts)
	}
	dlq := e.deadLetters()
	m := e.send(p, &mq.Message{Body: []byte("poison-crash"), Attributes: deadLetterAttrs})
	for i := 1; i <= maxAttempts; i++ {
		h := e.sub(0)
		d := e.recv(h, 3*e.tm.lease, fmt.Sprintf("delivery attempt %d (earlier receivers shut down without settling)", i))
		checkAttempt(t, d, m, i, caps)
		// The consumer "crashes": its handle goes away with the delivery.
		ctx, cancel := e.within(e.tm.shutdown)
		err := h.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Subscription.Shutdown: %v", err)
		}
	}
	awaitDeadLetter(e, sub, dlq, m, fmt.Sprintf("%d receivers shut down without settling", maxAttempts))
}

func testDeadLetterNow(t tb, s *suite) {
	e, p, sub, dlq := deadLetterEnv(t, s, false)
	m := e.send(p, &mq.Message{Body: []byte("poison-now"), Attributes: deadLetterAttrs})
	d := e.recv(sub, e.tm.patience, "the message")
	const reason = "conformance: unparseable ✓"
	if err := d.DeadLetter(reason); err != nil {
		t.Fatalf("DeadLetter: %v", err)
	}
	dl := e.recv(dlq, e.tm.patience, "the message in the dead-letter destination after DeadLetter")
	checkDeadLetter(t, dl, m, 0, reason)
	if sub.Capabilities().Attempts.Has() {
		if got := dl.Attributes[mq.AttrAttempts]; got != "1" {
			t.Errorf("dead letter has %s = %q, want \"1\"", mq.AttrAttempts, got)
		}
	}
	e.ack(dl)
	e.expectNone(sub, e.tm.quiet, "a dead-lettered message must leave its subscription")
}

func testConsumerDeadLetters(t tb, s *suite) {
	e, p, sub, dlq := deadLetterEnv(t, s, true)
	caps := sub.Capabilities()
	calls := newEvents[int]()
	e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		calls.add(d.Attempt)
		return errors.New("conformance: handler always fails")
	}, mq.WithBackoff(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease / 4}))
	m := e.send(p, &mq.Message{Body: []byte("poison-consumer"), Attributes: deadLetterAttrs})
	dl := e.recv(dlq, 2*e.tm.patience, "the message in the dead-letter destination after the handler failed "+strconv.Itoa(maxAttempts)+" times")
	checkDeadLetter(t, dl, m, maxAttempts, "")
	e.ack(dl)
	if calls.waitFor(e.ctx(), e.tm.quiet, func(c []int) bool { return len(c) > maxAttempts }) {
		t.Errorf("handler ran %d times after the message was dead-lettered", len(calls.snapshot())-maxAttempts)
	}
	got := calls.snapshot()
	if len(got) != maxAttempts {
		t.Errorf("handler ran %d times (attempts %v), want %d", len(got), got, maxAttempts)
	} else if caps.Attempts.Has() {
		for i, a := range got {
			if a != i+1 {
				t.Errorf("handler saw attempts %v, want 1, 2, 3", got)
				break
			}
		}
	}
}

func testConsumerPermanent(t tb, s *suite) {
	e, p, sub, dlq := deadLetterEnv(t, s, false)
	calls := newEvents[int]()
	const why = "conformance: not retryable"
	e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		calls.add(d.Attempt)
		return mq.Permanent(errors.New(why))
	}, mq.WithBackoff(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease / 4}))
	m := e.send(p, &mq.Message{Body: []byte("poison-permanent"), Attributes: deadLetterAttrs})
	dl := e.recv(dlq, e.tm.patience, "the message in the dead-letter destination after a permanent error")
	checkDeadLetter(t, dl, m, 0, why)
	if sub.Capabilities().Attempts.Has() {
		if got := dl.Attributes[mq.AttrAttempts]; got != "1" {
			t.Errorf("dead letter has %s = %q, want \"1\"", mq.AttrAttempts, got)
		}
	}
	e.ack(dl)
	if calls.waitFor(e.ctx(), e.tm.quiet, func(c []int) bool { return len(c) > 1 }) {
		t.Errorf("handler ran %d times, want once: a permanent error must not be retried", len(calls.snapshot()))
	}
}
