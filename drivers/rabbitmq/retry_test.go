package rabbitmq_test

import (
	"testing"
	"time"
)

// A wait queue that vanished (it expired, or someone deleted it) is
// declared again: the republish is mandatory, so the driver learns that
// it went nowhere.
func TestDelayedNackSurvivesAVanishedWaitQueue(t *testing.T) {
	p, s, q := pair(t)
	id := send(t, p, "retry me")[0]
	const delay = 150 * time.Millisecond
	wq := q + ".portmq-wait-150ms"
	t.Cleanup(func() { deleteAll(t, []string{wq}, nil) })
	d := recv(t, s)
	for attempt := 1; attempt <= 2; attempt++ {
		if d.ID != id || d.Attempt != attempt {
			t.Fatalf("got %s attempt %d, want %s attempt %d", d.ID, d.Attempt, id, attempt)
		}
		nacked := time.Now()
		if err := d.Nack(delay); err != nil {
			t.Fatalf("Nack(%v) #%d: %v", delay, attempt, err)
		}
		d = recv(t, s)
		if since := time.Since(nacked); since < delay {
			t.Errorf("redelivered %v after Nack(%v)", since, delay)
		}
		deleteAll(t, []string{wq}, nil)
	}
	if d.Attempt != 3 {
		t.Errorf("third delivery has Attempt %d, want 3", d.Attempt)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
}
