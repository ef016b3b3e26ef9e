package rabbitmq_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq"
)

func sendKeyed(t *testing.T, p *mq.Producer, msgs ...[2]string) {
	t.Helper()
	for _, m := range msgs {
		if err := p.Send(ctxFor(t, 30*time.Second), &mq.Message{Body: []byte(m[0]), Key: m[1]}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOrderedNackedMessageIsNotOvertakenEvenWithSmallPrefetch(t *testing.T) {
	p, s, _ := pair(t, "ordered", "true", "prefetch", "2")
	if s.Capabilities().NackDelay.Has() || !s.Capabilities().Ordering.Has() {
		t.Fatalf("ordered capabilities = %v, want nack-delay none (mq holds) and ordering", s.Capabilities())
	}
	sendKeyed(t, p, [2]string{"a0", "a"}, [2]string{"a1", "a"}, [2]string{"a2", "a"}, [2]string{"b0", "b"}, [2]string{"b1", "b"})
	var order []string
	nacks := 0
	for len(order) < 5 {
		d := recv(t, s)
		body := string(d.Body)
		if body == "a0" && nacks < 2 {
			nacks++
			if d.Attempt != nacks {
				t.Errorf("a0 delivery %d has Attempt %d", nacks, d.Attempt)
			}
			if err := d.Nack(0); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if body == "a0" && d.Attempt != 3 {
			t.Errorf("a0 after two nacks has Attempt %d, want 3", d.Attempt)
		}
		if body != "a0" && d.Attempt != 1 {
			t.Errorf("%s has Attempt %d, want 1 (waiting behind its key is no attempt)", body, d.Attempt)
		}
		order = append(order, body)
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	pos := map[string]int{}
	for i, b := range order {
		pos[b] = i
	}
	if !(pos["a0"] < pos["a1"] && pos["a1"] < pos["a2"] && pos["b0"] < pos["b1"]) {
		t.Errorf("handled in order %v: a key's messages overtook each other", order)
	}
}

func TestOrderedDelayedNackKeepsItsPlace(t *testing.T) {
	p, s, _ := pair(t, "ordered", "true")
	sendKeyed(t, p, [2]string{"a0", "a"}, [2]string{"a1", "a"})
	d := recv(t, s)
	if string(d.Body) != "a0" {
		t.Fatalf("first delivery %q, want a0", d.Body)
	}
	const delay = 300 * time.Millisecond
	nacked := time.Now()
	if err := d.Nack(delay); err != nil {
		t.Fatal(err)
	}
	d = recv(t, s)
	if string(d.Body) != "a0" || d.Attempt != 2 {
		t.Fatalf("after Nack(%v) got %q attempt %d, want a0 attempt 2 before a1", delay, d.Body, d.Attempt)
	}
	if since := time.Since(nacked); since < delay {
		t.Errorf("a0 came back after %v, before its %v delay", since, delay)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	if d = recv(t, s); string(d.Body) != "a1" {
		t.Fatalf("then %q, want a1", d.Body)
	}
	_ = d.Ack()
}

func TestOrderedDeadLettersAtMaxAttemptsAndFreesTheKey(t *testing.T) {
	p, s, q := pair(t, "ordered", "true", "max_attempts", "2")
	dlq, err := mq.OpenSubscription(ctxFor(t, time.Minute), withQuery(t, serverURL(t), "topic", q+".dlq", "subscription", q+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Shutdown(context.Background())
	sendKeyed(t, p, [2]string{"a0", "a"}, [2]string{"a1", "a"})
	for i := 1; i <= 2; i++ {
		d := recv(t, s)
		if string(d.Body) != "a0" || d.Attempt != i {
			t.Fatalf("delivery %d: %q attempt %d, want a0 attempt %d", i, d.Body, d.Attempt, i)
		}
		if err := d.Nack(0); err != nil {
			t.Fatal(err)
		}
	}
	if d := recv(t, s); string(d.Body) != "a1" {
		t.Fatalf("after a0 was dead-lettered got %q, want a1", d.Body)
	} else {
		_ = d.Ack()
	}
	dl := recv(t, dlq)
	if string(dl.Body) != "a0" || dl.Key != "a" || dl.Attributes[mq.AttrAttempts] != "2" || dl.Attributes[mq.AttrDeadLetterReason] == "" {
		t.Errorf("dead letter %q key %q attributes %v", dl.Body, dl.Key, dl.Attributes)
	}
	_ = dl.Ack()
}

// Attempts made before a delayed retry are invisible to the broker's
// delivery limit; the driver dead-letters such a message when it comes
// back over the limit (here after a delayed nack and a crash).
func TestAttemptsBeforeDelayedRetryCountTowardMaxAttempts(t *testing.T) {
	p, s, q := pair(t, "max_attempts", "2")
	dlq, err := mq.OpenSubscription(ctxFor(t, time.Minute), withQuery(t, serverURL(t), "topic", q+".dlq", "subscription", q+".dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Shutdown(context.Background())
	id := send(t, p, "poison")[0]
	d := recv(t, s)
	if err := d.Nack(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d = recv(t, s); d.ID != id || d.Attempt != 2 {
		t.Fatalf("after the delayed nack: %s attempt %d, want %s attempt 2", d.ID, d.Attempt, id)
	}
	// Crash: the channel goes away without the delivery being settled
	// (no nack from the driver), and the broker counts one return.
	var ch *amqp.Channel
	if !s.As(&ch) {
		t.Fatal("As(**amqp.Channel) = false")
	}
	_ = ch.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if d, err := s.Receive(ctx); err == nil {
		t.Fatalf("message over max attempts delivered again: %s attempt %s", d.ID, strconv.Itoa(d.Attempt))
	}
	dl := recv(t, dlq)
	if dl.ID != id || dl.Attributes[mq.AttrAttempts] != "2" || dl.Attributes[mq.AttrDeadLetterReason] != "max attempts (2) reached" {
		t.Fatalf("dead letter %s attributes %v", dl.ID, dl.Attributes)
	}
	_ = dl.Ack()
}
