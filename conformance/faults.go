package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 15 under a cut: every connection of the driver reset mid-operation
// and new ones refused for a while (Harness.Cut), as a network partition
// or a crashed broker host does. Unlike a broker restart, a cut is abrupt:
// the client sees resets, not an orderly close.

// cut cuts the wire for the suite's cut duration or skips the case.
func (e *env) cut() {
	e.t.Helper()
	ctx, cancel := e.within(e.tm.shutdown)
	defer cancel()
	if err := e.s.h.Cut(ctx, e.tm.cut); err != nil {
		e.t.Fatalf("Harness.Cut: %v", err)
	}
}

func needCut(t tb, s *suite) {
	if s.h.Cut == nil {
		t.Skipf("harness cannot cut the network (Harness.Cut is nil; put a conformance/faultproxy.Proxy between the driver and its server)")
	}
}

// warmUp sends one message and receives and acks it, so that the
// producer's and the subscription's connections are open when the case
// cuts them.
func (e *env) warmUp(p *mq.Producer, sub *mq.Subscription) {
	e.t.Helper()
	e.sendBody(p, "warm-up")
	d := e.recv(sub, e.tm.patience, "the warm-up message")
	e.ack(d)
}

// recvBody receives until a delivery with body arrives, acking any
// redelivery of an earlier message (a confirm lost in a cut may make a
// send go twice; that is at-least-once), and fails the case on anything
// else or on a timeout.
func (e *env) recvBody(sub *mq.Subscription, d time.Duration, body string, earlier ...string) *mq.Delivery {
	e.t.Helper()
	end := time.Now().Add(d)
	for {
		dl, err := e.tryRecv(sub, time.Until(end))
		if err != nil {
			e.t.Fatalf("waiting up to %v for %q: Receive: %v (retryable: %v)", d, body, err, mq.IsRetryable(err))
		}
		switch b := string(dl.Body); {
		case b == body:
			return dl
		case b == "warm-up" || strings.HasPrefix(b, "warm-up") || contains(earlier, b):
			_ = dl.Ack()
		default:
			e.t.Fatalf("waiting for %q, got %s", body, describe(dl))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Fails on today's RabbitMQ driver without mq's outage retry: the Send
// returned "dial ... connection refused" after about 1 ms (issue 12, 1).
func testSendDuringCut(t tb, s *suite) {
	needCut(t, s)
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	e.warmUp(p, sub)
	e.cut()
	ctx, cancel := e.within(e.tm.cut + e.tm.shutdown)
	m := &mq.Message{Body: []byte("sent-during-cut")}
	err := p.Send(ctx, m)
	cancel()
	if err != nil {
		t.Fatalf("Send during a cut of %v with a context of %v: %v (code %v, retryable %v); want it to wait out the cut", e.tm.cut, e.tm.cut+e.tm.shutdown, err, mq.Code(err), mq.IsRetryable(err))
	}
	d := e.recvBody(sub, e.tm.cut+e.tm.shutdown, "sent-during-cut")
	if d.ID != m.ID {
		t.Logf("delivered ID %s, Send returned %s (a retried send may carry another ID)", d.ID, m.ID)
	}
	e.ack(d)
}

// Fails where a driver reports a connection loss as Internal or Unknown
// (RabbitMQ's amqp 501 before issue 12): the error is not retryable.
func testSendTimesOutInCut(t tb, s *suite) {
	needCut(t, s)
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	e.warmUp(p, sub)
	// Cut for longer than the Send's context, so the context ends inside
	// the cut.
	ctx, cancel := e.within(e.tm.shutdown)
	err := s.h.Cut(ctx, 3*e.tm.cut)
	cancel()
	if err != nil {
		t.Fatalf("Harness.Cut: %v", err)
	}
	ctx, cancel = e.within(e.tm.cut)
	err = p.Send(ctx, &mq.Message{Body: []byte("gives-up")})
	cancel()
	switch {
	case err == nil:
		t.Errorf("Send with a context of %v inside a cut of %v returned nil: nothing can be confirmed during a cut, so it ran past its context; it must fail when its context ends", e.tm.cut, 3*e.tm.cut)
	case !mq.IsRetryable(err):
		t.Errorf("Send whose context ended inside a cut: %v (code %v); want a retryable error (Unavailable or DeadlineExceeded)", err, mq.Code(err))
	default:
		t.Logf("Send failed as it should: %v (code %v)", err, mq.Code(err))
	}
	// After the cut the producer works again.
	ctx, cancel = e.within(3*e.tm.cut + e.tm.shutdown)
	err = p.Send(ctx, &mq.Message{Body: []byte("after-cut")})
	cancel()
	if err != nil {
		t.Fatalf("Send after the cut: %v", err)
	}
	e.ack(e.recvBody(sub, 3*e.tm.cut+e.tm.shutdown, "after-cut", "gives-up"))
}

// Fails where Receive returns the connection loss instead of waiting
// (RabbitMQ's amqp 501 classified Internal before issue 12).
func testReceiveAcrossCut(t tb, s *suite) {
	needCut(t, s)
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	e.warmUp(p, sub)
	type result struct {
		d   *mq.Delivery
		err error
	}
	got := make(chan result, 1)
	var back atomic.Int32
	rctx, rcancel := e.within(e.tm.cut + e.tm.shutdown + e.tm.patience)
	defer rcancel()
	go func() {
		for {
			d, err := sub.Receive(rctx)
			if err == nil && string(d.Body) == "warm-up" {
				// An ack the backend had not yet made durable when the
				// wire was cut (Kafka commits offsets asynchronously)
				// comes back: at-least-once allows it.
				back.Add(1)
				_ = d.Ack()
				continue
			}
			got <- result{d, err}
			return
		}
	}()
	e.cut()
	ctx, cancel := e.within(e.tm.cut + e.tm.shutdown)
	err := p.Send(ctx, &mq.Message{Body: []byte("after-cut")})
	cancel()
	if err != nil {
		t.Fatalf("Send after the cut: %v", err)
	}
	r := <-got
	if n := back.Load(); n > 0 {
		t.Logf("the acked warm-up message came back %d time(s) after the cut", n)
	}
	if r.err != nil {
		t.Fatalf("a Receive blocked across a cut returned %v (code %v, retryable %v); want the message sent after the cut", r.err, mq.Code(r.err), mq.IsRetryable(r.err))
	}
	if string(r.d.Body) != "after-cut" {
		t.Fatalf("a Receive blocked across a cut returned %s; want %q", describe(r.d), "after-cut")
	}
	e.ack(r.d)
}

// Fails on RabbitMQ before issue 12: a restart added 1-2 attempts to held
// messages, so a message that had failed once reached max_attempts=3 and
// was dead-lettered.
func testConsumerThroughFaults(t tb, s *suite) {
	if s.h.Cut == nil && s.h.Restart == nil {
		t.Skipf("harness can neither cut the network nor restart its broker (Harness.Cut and Harness.Restart are nil)")
	}
	const maxAttempts = 3
	// A lease of 3L: leases that end because a loaded machine was slow
	// would add attempts that no fault caused.
	e := setup(t, s, Spec{MaxAttempts: maxAttempts, DeadLetter: true, Lease: 3 * s.tm.lease})
	p, sub := e.producer(), e.sub(0)
	type handled struct {
		body    string
		attempt int
		ok      bool
	}
	calls := newEvents[handled]()
	held := make(chan struct{})       // closed when the held message's handler runs
	faultsOver := make(chan struct{}) // closed when every fault was applied
	var heldOnce, flakyOnce sync.Once
	e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		body := string(d.Body)
		switch body {
		case "held":
			heldOnce.Do(func() { close(held) })
			select {
			case <-faultsOver:
			case <-ctx.Done():
				calls.add(handled{body, d.Attempt, false})
				return ctx.Err()
			}
		case "flaky":
			failed := false
			flakyOnce.Do(func() { failed = true })
			if failed {
				calls.add(handled{body, d.Attempt, false})
				return errors.New("conformance: flaky fails once")
			}
		}
		calls.add(handled{body, d.Attempt, true})
		return nil
	}, mq.WithConcurrency(4), mq.WithBackoff(mq.Backoff{Min: e.tm.lease / 10, Max: e.tm.lease / 2}))

	var sent []string
	sendAll := func(prefix string, n int) {
		for i := range n {
			body := fmt.Sprintf("%s-%d", prefix, i)
			ctx, cancel := e.within(e.tm.cut + e.tm.shutdown)
			err := p.Send(ctx, &mq.Message{Body: []byte(body)})
			cancel()
			if err != nil {
				t.Fatalf("Send(%q) through the faults: %v (code %v)", body, err, mq.Code(err))
			}
			sent = append(sent, body)
		}
	}
	e.send(p, &mq.Message{Body: []byte("held")})
	e.send(p, &mq.Message{Body: []byte("flaky")})
	sent = append(sent, "held", "flaky")
	sendAll("before", 5)
	select {
	case <-held:
	case <-time.After(e.tm.patience):
		t.Fatalf("the held message was not handled within %v", e.tm.patience)
	}
	faults := 0
	if s.h.Cut != nil {
		e.cut()
		faults++
		sendAll("during-cut", 5)
	}
	if s.h.Restart != nil {
		ctx, cancel := e.within(e.tm.shutdown)
		err := s.h.Restart(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Harness.Restart: %v", err)
		}
		faults++
		sendAll("after-restart", 5)
	}
	close(faultsOver)
	sendAll("after-faults", 5)

	allDone := func(cs []handled) bool {
		ok := map[string]bool{}
		for _, c := range cs {
			if c.ok {
				ok[c.body] = true
			}
		}
		for _, b := range sent {
			if !ok[b] {
				return false
			}
		}
		return true
	}
	wait := 3*e.tm.patience + time.Duration(faults)*e.tm.cut + 3*e.tm.lease
	if !calls.waitFor(e.ctx(), wait, allDone) {
		ok := map[string]bool{}
		for _, c := range calls.snapshot() {
			if c.ok {
				ok[c.body] = true
			}
		}
		var missing []string
		for _, b := range sent {
			if !ok[b] {
				missing = append(missing, b)
			}
		}
		t.Fatalf("after %d fault(s), %d of %d acknowledged sends were never handled successfully within %v: %v (handler calls: %+v)", faults, len(missing), len(sent), wait, missing, calls.snapshot())
	}
	// At most one attempt per fault on top of the message's own failures.
	maxSeen := map[string]int{}
	for _, c := range calls.snapshot() {
		maxSeen[c.body] = max(maxSeen[c.body], c.attempt)
	}
	for body, a := range maxSeen {
		own := 1
		if body == "flaky" {
			own = 2
		}
		if a > own+faults && a != 0 {
			t.Errorf("%q reached attempt %d: its own %d plus more than one per fault (%d fault(s))", body, a, own, faults)
		}
	}
	// Nothing that never failed is dead-lettered.
	dlq := e.deadLetters()
	for _, d := range e.expectNone(dlq, e.tm.quiet, "no message whose handler never failed may be dead-lettered by a cut or a restart") {
		e.ack(d)
	}
	t.Logf("%d fault(s), %d messages, attempts seen: %v", faults, len(sent), maxSeen)
}

// Fails on RabbitMQ before issue 12: subscription=S on topic A and on
// topic B was one queue bound to both exchanges.
func testSubscriptionScopedToTopic(t tb, s *suite) {
	shared := caseName("shared-sub")
	a := setup(t, s, Spec{SubscriptionName: shared})
	b, err := trySetup(t, s, Spec{SubscriptionName: shared})
	if err != nil {
		switch mq.Code(err) {
		case mq.AlreadyExists, mq.FailedPrecondition:
			t.Logf("the backend's subscription names are global: provisioning %q on a second topic was refused: %v", shared, err)
			return
		}
		t.Fatalf("Provision of subscription %q on a second topic: %v", shared, err)
	}
	for _, env := range []*env{a, b} {
		if !strings.Contains(env.res.SubscriptionURLs[0], shared) {
			t.Fatalf("Provision ignored Spec.SubscriptionName %q: subscription URL %q", shared, env.res.SubscriptionURLs[0])
		}
	}
	subA := a.sub(0)
	subB, err := s.mux.OpenSubscription(b.ctx(), b.res.SubscriptionURLs[0])
	if err != nil {
		switch mq.Code(err) {
		case mq.AlreadyExists, mq.FailedPrecondition:
			t.Logf("opening subscription %q on a second topic was refused: %v", shared, err)
			return
		}
		t.Fatalf("OpenSubscription(%q): %v", b.res.SubscriptionURLs[0], err)
	}
	t.Cleanup(func() {
		ctx, cancel := b.shutdownCtx()
		defer cancel()
		if err := subB.Shutdown(ctx); err != nil {
			t.Errorf("Subscription.Shutdown: %v", err)
		}
	})
	pa, pb := a.producer(), b.producer()
	a.sendBody(pa, "to-topic-a")
	b.sendBody(pb, "to-topic-b")
	for _, c := range []struct {
		env  *env
		sub  *mq.Subscription
		want string
	}{{a, subA, "to-topic-a"}, {b, subB, "to-topic-b"}} {
		d := c.env.recv(c.sub, c.env.tm.patience, c.want)
		if string(d.Body) != c.want {
			t.Errorf("subscription %q of one topic received %s, sent to the other topic", shared, describe(d))
		}
		c.env.ack(d)
	}
	for _, c := range []*mq.Subscription{subA, subB} {
		for _, d := range a.expectNone(c, a.tm.quiet, "a subscription must get only its own topic's messages") {
			a.ack(d)
		}
	}
}
