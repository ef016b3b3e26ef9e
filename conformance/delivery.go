package conformance

import (
	"fmt"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rules 1 to 5: durable send, at-least-once, ack, nack and extend.

func testDurableSend(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p := e.producer()
	want := map[string]string{}
	m := e.send(p, &mq.Message{Body: []byte("durable-1"), Attributes: map[string]string{"n": "1"}})
	want[m.ID] = "durable-1"
	batch := []*mq.Message{{Body: []byte("durable-2")}, {Body: []byte("durable-3")}}
	ctx, cancel := e.within(e.tm.patience)
	err := p.SendBatch(ctx, batch)
	cancel()
	if err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	for _, b := range batch {
		if b.ID == "" {
			t.Fatalf("SendBatch returned nil but left the ID of %q empty", b.Body)
		}
		if _, dup := want[b.ID]; dup {
			t.Errorf("two sent messages share ID %s", b.ID)
		}
		want[b.ID] = string(b.Body)
	}
	ctx, cancel = e.within(e.tm.shutdown)
	err = p.Shutdown(ctx)
	cancel()
	if err != nil {
		t.Errorf("Producer.Shutdown: %v", err)
	}

	sub := e.sub(0)
	for len(want) > 0 {
		d := e.recv(sub, e.tm.patience, fmt.Sprintf("%d messages sent before the producer shut down", len(want)))
		body, ok := want[d.ID]
		switch {
		case !ok:
			t.Errorf("received %s, which was not sent or was received twice", describe(d))
		case body != string(d.Body):
			t.Errorf("message %s has body %q, sent %q", d.ID, d.Body, body)
		}
		delete(want, d.ID)
		e.ack(d)
	}
}

func testRedeliveredAfterLease(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	caps := sub.Capabilities()
	m := e.sendBody(p, "redeliver-me")
	d1 := e.recv(sub, e.tm.patience, "the message")
	got1 := time.Now()
	if d1.ID != m.ID || string(d1.Body) != "redeliver-me" {
		t.Fatalf("received %s, want the message sent with ID %s", describe(d1), m.ID)
	}
	if caps.Attempts.Has() && d1.Attempt != 1 {
		t.Errorf("first delivery has Attempt %d, want 1", d1.Attempt)
	}
	// Leave d1 unsettled: its lease must end and the message come back.
	d2 := e.recv(sub, e.tm.patience, "the unacked message to be delivered again after its lease")
	after := time.Since(got1)
	if d2.ID != m.ID {
		t.Fatalf("received %s, want the redelivery of %s", describe(d2), m.ID)
	}
	earliest := e.tm.lease*3/4 - e.gran(sub)
	if dl := d1.Deadline(); !dl.IsZero() {
		earliest = dl.Sub(got1) - e.gran(sub)
	}
	if after < earliest {
		t.Errorf("redelivered %v after the first delivery, before its lease (%v) ended", after.Round(time.Millisecond), e.tm.lease)
	}
	if caps.Attempts.Has() {
		if d2.Attempt != d1.Attempt+1 {
			t.Errorf("redelivery has Attempt %d, want %d", d2.Attempt, d1.Attempt+1)
		}
	} else {
		t.Logf("capability attempts is none: Attempt not checked")
	}
	e.ack(d2)
}

func testAckIsFinal(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	want := map[string]bool{}
	for i := range 3 {
		want[e.sendBody(p, fmt.Sprintf("ack-%d", i)).ID] = true
	}
	for len(want) > 0 {
		d := e.recv(sub, e.tm.patience, "the sent messages")
		if !want[d.ID] {
			t.Errorf("received %s, which was not sent or was already acked", describe(d))
		}
		delete(want, d.ID)
		if err := d.Ack(); err != nil {
			t.Fatalf("Ack of %s: %v", describe(d), err)
		}
	}
	e.expectNone(sub, e.tm.quiet, "acked messages must not be delivered again")
}

func testNackDelay(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	caps := sub.Capabilities()
	m := e.sendBody(p, "nack-later")
	d1 := e.recv(sub, e.tm.patience, "the message")
	delay := 2 * e.tm.lease
	earliest := delay - e.gran(sub)
	nacked := time.Now()
	if err := d1.Nack(delay); err != nil {
		t.Fatalf("Nack(%v): %v", delay, err)
	}
	var d2 *mq.Delivery
	if early := e.expectNone(sub, earliest-time.Since(nacked), fmt.Sprintf("a message nacked with delay %v must not come back within %v", delay, earliest)); len(early) > 0 {
		d2 = early[0]
	} else {
		d2 = e.recv(sub, e.tm.patience+delay, "the nacked message after its delay")
	}
	after := time.Since(nacked)
	if d2.ID != m.ID {
		t.Fatalf("received %s, want the redelivery of %s", describe(d2), m.ID)
	}
	if after < earliest {
		t.Errorf("redelivered %v after Nack(%v)", after.Round(time.Millisecond), delay)
	}
	if caps.Attempts.Has() && d2.Attempt != d1.Attempt+1 {
		t.Errorf("redelivery has Attempt %d, want %d", d2.Attempt, d1.Attempt+1)
	}
	e.ack(d2)
}

func testNackZero(t tb, s *suite) {
	// A long lease tells a prompt redelivery from one at the lease's end.
	e := setup(t, s, Spec{Lease: 10 * s.tm.lease})
	p, sub := e.producer(), e.sub(0)
	caps := sub.Capabilities()
	m := e.sendBody(p, "nack-now")
	d1 := e.recv(sub, e.tm.patience, "the message")
	if err := d1.Nack(0); err != nil {
		t.Fatalf("Nack(0): %v", err)
	}
	prompt := 3 * e.tm.lease
	d2, err := e.tryRecv(sub, prompt)
	if err != nil {
		t.Fatalf("message nacked with delay 0 was not redelivered within %v (lease %v): %v", prompt, e.spec.Lease, err)
	}
	if d2.ID != m.ID {
		t.Fatalf("received %s, want the redelivery of %s", describe(d2), m.ID)
	}
	if caps.Attempts.Has() && d2.Attempt != d1.Attempt+1 {
		t.Errorf("redelivery has Attempt %d, want %d", d2.Attempt, d1.Attempt+1)
	}
	e.ack(d2)
}

func testExtend(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	m := e.sendBody(p, "extend-me")
	d := e.recv(sub, e.tm.patience, "the message")
	if d.ID != m.ID {
		t.Fatalf("received %s, want %s", describe(d), m.ID)
	}
	l := e.tm.lease
	start := time.Now()
	for i := 1; time.Since(start) < 3*l; i++ {
		if err := d.Extend(l); err != nil {
			t.Fatalf("Extend(%v) #%d, %v after receiving: %v", l, i, time.Since(start).Round(time.Millisecond), err)
		}
		if got := e.expectNone(sub, l/2, "a delivery whose lease is being extended must not be redelivered"); len(got) > 0 {
			t.Errorf("%s was redelivered %v after the first delivery while its lease (%v) was extended every %v", describe(got[0]), time.Since(start).Round(time.Millisecond), l, l/2)
			return
		}
	}
	if err := d.Ack(); err != nil {
		t.Errorf("Ack after extending the lease for %v (lease %v): %v", time.Since(start).Round(time.Millisecond), l, err)
	}
	e.expectNone(sub, e.tm.quiet, "the acked message must not be delivered again")
}

// testSlowReceiver handles messages one at a time, each taking a third of
// a lease, so that messages a backend or mq fetched ahead wait for up to
// two leases before they are handed out. Their leases must be kept
// meanwhile: each message arrives once, on its first attempt, with enough
// of its lease left to be acked after the work.
func testSlowReceiver(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	const n = 7
	want := map[string]bool{}
	for i := range n {
		want[e.sendBody(p, fmt.Sprintf("slow-%d", i)).ID] = true
	}
	attempts := sub.Capabilities().Attempts.Has()
	for len(want) > 0 {
		d := e.recv(sub, e.tm.patience, fmt.Sprintf("%d more messages", len(want)))
		if !want[d.ID] {
			t.Errorf("received %s again or unsent: a lease ran out while the message waited to be received", describe(d))
			e.ack(d)
			continue
		}
		delete(want, d.ID)
		if attempts && d.Attempt != 1 {
			t.Errorf("%s arrived on attempt %d, want 1: its lease ran out before it was handed out", describe(d), d.Attempt)
		}
		e.work(e.tm.lease / 3) // the handler's work
		if err := d.Ack(); err != nil {
			t.Errorf("Ack of %s after a third of a lease of work: %v", describe(d), err)
		}
	}
	for _, d := range e.expectNone(sub, e.tm.quiet, "every message was acked") {
		t.Errorf("redelivered after ack: %s", describe(d))
	}
}
