package conformance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 13: shutdown drains, hands back and closes.

func testConsumerShutdownHandsBack(t tb, s *suite) {
	// A long lease: a message handed back must come back long before it.
	e := setup(t, s, Spec{Lease: 10 * s.tm.lease})
	p, sub := e.producer(), e.sub(0)
	started := make(chan *mq.Delivery, 1)
	rc := e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		select {
		case started <- d:
		default:
		}
		<-ctx.Done() // blocked until the Consumer gives up on it
		return ctx.Err()
	}, mq.WithConcurrency(1))
	m := e.sendBody(p, "stuck")
	var d1 *mq.Delivery
	select {
	case d1 = <-started:
	case <-time.After(e.tm.patience):
		t.Fatalf("handler not called within %v", e.tm.patience)
	}
	if d1.ID != m.ID {
		t.Fatalf("handler got %s, want %s", describe(d1), m.ID)
	}
	grace := e.tm.lease / 2
	ctx, cancel := e.within(grace)
	begin := time.Now()
	err := rc.Shutdown(ctx)
	took := time.Since(begin)
	cancel()
	t.Logf("Consumer.Shutdown with a %v deadline and a blocked handler returned %v after %v", grace, err, took.Round(time.Millisecond))
	if took > grace+e.tm.lease {
		t.Errorf("Consumer.Shutdown took %v with a %v deadline", took.Round(time.Millisecond), grace)
	}
	select {
	case <-rc.done:
	case <-time.After(e.tm.patience):
		t.Fatalf("Consumer.Run did not return within %v after Shutdown returned", e.tm.patience)
	}
	prompt := 3 * e.tm.lease
	d2, err := e.tryRecv(e.sub(0), prompt)
	if err != nil {
		t.Fatalf("the unfinished message was not handed back: no redelivery within %v (lease %v): %v", prompt, e.spec.Lease, err)
	}
	if d2.ID != m.ID {
		t.Fatalf("received %s, want the handed-back %s", describe(d2), m.ID)
	}
	if sub.Capabilities().Attempts.Has() && d2.Attempt != d1.Attempt+1 {
		t.Errorf("handed-back message has Attempt %d, want %d", d2.Attempt, d1.Attempt+1)
	}
	e.ack(d2)
}

func testConsumerShutdownDrains(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	work := e.tm.lease
	started := make(chan struct{}, 1)
	finished := newEvents[string]()
	rc := e.runConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-time.After(work): // the handler's work
			finished.add(d.ID)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	m := e.sendBody(p, "drain-me")
	select {
	case <-started:
	case <-time.After(e.tm.patience):
		t.Fatalf("handler not called within %v", e.tm.patience)
	}
	ctx, cancel := e.within(10*work + e.tm.patience)
	err := rc.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Consumer.Shutdown with a generous deadline: %v, want nil", err)
	}
	if got := finished.snapshot(); len(got) != 1 || got[0] != m.ID {
		t.Fatalf("handlers finished for %v when Shutdown returned; want the running one (%s) to finish", got, m.ID)
	}
	for _, d := range e.expectNone(e.sub(0), e.tm.quiet, "a message whose handler finished during Shutdown must be acked") {
		e.ack(d)
	}
}

func testSubscriptionShutdown(t tb, s *suite) {
	e := setup(t, s, Spec{Lease: 10 * s.tm.lease})
	p := e.producer()

	// A Receive blocked on an empty subscription returns ErrClosed.
	idle := e.sub(0)
	recvErr := make(chan error, 1)
	go func() {
		ctx, cancel := e.within(e.tm.patience)
		defer cancel()
		d, err := idle.Receive(ctx)
		if d != nil {
			err = fmt.Errorf("received %s from an empty subscription", describe(d))
		}
		recvErr <- err
	}()
	// Give Receive a moment to block (if it has not, it must fail the
	// same way after Shutdown).
	pause := time.NewTimer(e.tm.lease / 4)
	<-pause.C
	ctx, cancel := e.within(e.tm.shutdown)
	err := idle.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Subscription.Shutdown: %v", err)
	}
	select {
	case err := <-recvErr:
		if !errors.Is(err, mq.ErrClosed) {
			t.Errorf("Receive blocked during Shutdown returned %v, want an error matching ErrClosed", err)
		}
	case <-time.After(e.tm.patience):
		t.Fatalf("Receive blocked during Shutdown did not return within %v", e.tm.patience)
	}
	if _, err := idle.Receive(e.ctx()); !errors.Is(err, mq.ErrClosed) || mq.Code(err) != mq.Closed {
		t.Errorf("Receive after Shutdown = %v, want ErrClosed", err)
	}
	if _, err := idle.ReceiveBatch(e.ctx(), 2); !errors.Is(err, mq.ErrClosed) {
		t.Errorf("ReceiveBatch after Shutdown = %v, want ErrClosed", err)
	}
	ctx, cancel = e.within(e.tm.shutdown)
	err = idle.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("second Subscription.Shutdown = %v, want nil", err)
	}

	// A held delivery, and messages fetched ahead, go back at once.
	sent := map[string]bool{}
	for i := range 3 {
		sent[e.sendBody(p, fmt.Sprintf("held-%d", i)).ID] = true
	}
	sub := e.sub(0)
	d := e.recv(sub, e.tm.patience, "a message")
	ctx, cancel = e.within(e.tm.shutdown)
	err = sub.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Subscription.Shutdown with a delivery held: %v", err)
	}
	for name, f := range map[string]func() error{
		"Ack":        d.Ack,
		"Nack":       func() error { return d.Nack(0) },
		"Extend":     func() error { return d.Extend(e.tm.lease) },
		"DeadLetter": func() error { return d.DeadLetter("after shutdown") },
	} {
		switch err := protect(f); {
		case isPanic(err):
			t.Errorf("%s after Subscription.Shutdown panicked: %v", name, err)
		case err == nil:
			t.Errorf("%s after Subscription.Shutdown returned nil, want an error", name)
		}
	}
	prompt := 3 * e.tm.lease
	again := e.sub(0)
	for len(sent) > 0 {
		d, err := e.tryRecv(again, prompt)
		if err != nil {
			t.Fatalf("%d messages were not handed back by Shutdown: no delivery within %v (lease %v): %v", len(sent), prompt, e.spec.Lease, err)
		}
		if !sent[d.ID] {
			t.Errorf("received %s, which was not sent or was received already", describe(d))
		}
		delete(sent, d.ID)
		e.ack(d)
	}
}

func testProducerShutdown(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	m := e.sendBody(p, "before shutdown")
	ctx, cancel := e.within(e.tm.shutdown)
	err := p.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Producer.Shutdown: %v", err)
	}
	late := &mq.Message{Body: []byte("after shutdown")}
	if err := protect(func() error { return p.Send(e.ctx(), late) }); !errors.Is(err, mq.ErrClosed) || mq.Code(err) != mq.Closed {
		t.Errorf("Send after Shutdown = %v, want ErrClosed", err)
	}
	if err := protect(func() error { return p.SendBatch(e.ctx(), []*mq.Message{late}) }); !errors.Is(err, mq.ErrClosed) {
		t.Errorf("SendBatch after Shutdown = %v, want ErrClosed", err)
	}
	ctx, cancel = e.within(e.tm.shutdown)
	err = p.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("second Producer.Shutdown = %v, want nil", err)
	}
	d := e.recv(sub, e.tm.patience, "the message sent before Shutdown")
	if d.ID != m.ID {
		t.Errorf("received %s, want %s", describe(d), m.ID)
	}
	e.ack(d)
	for _, d := range e.expectNone(sub, e.tm.quiet, "sends after Shutdown must not reach the backend") {
		e.ack(d)
	}
}
