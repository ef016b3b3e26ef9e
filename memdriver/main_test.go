package memdriver

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// env is a fresh engine on a fake clock.
type env struct {
	t   *testing.T
	e   *Engine
	clk *clock.Fake
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	return &env{t: t, e: New(&Options{Clock: clk}), clk: clk}
}

func (v *env) topic(name string, cfg *driver.TopicConfig) driver.Topic {
	v.t.Helper()
	tp, err := v.e.OpenTopic(name, cfg)
	if err != nil {
		v.t.Fatalf("OpenTopic(%q): %v", name, err)
	}
	v.t.Cleanup(func() { _ = tp.Close() })
	return tp
}

func (v *env) sub(topic, name string, cfg *driver.SubscriptionConfig, opts *SubscriptionOptions) driver.Subscription {
	v.t.Helper()
	s, err := v.e.OpenSubscription(topic, name, cfg, opts)
	if err != nil {
		v.t.Fatalf("OpenSubscription(%q, %q): %v", topic, name, err)
	}
	v.t.Cleanup(func() { _ = s.Close() })
	return s
}

// send sends one message per body and returns their IDs.
func send(t *testing.T, tp driver.Topic, msgs ...driver.Message) []string {
	t.Helper()
	if err := tp.SendBatch(context.Background(), msgs); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	ids := make([]string, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].ID
	}
	return ids
}

func sendBodies(t *testing.T, tp driver.Topic, bodies ...string) []string {
	t.Helper()
	msgs := make([]driver.Message, len(bodies))
	for i, b := range bodies {
		msgs[i].Body = []byte(b)
	}
	return send(t, tp, msgs...)
}

// poll receives what is available now, up to n, without blocking.
func poll(t *testing.T, s driver.Subscription, n int) []driver.Message {
	t.Helper()
	h := s.(*subHandle)
	if err := h.lock(); err != nil {
		t.Fatalf("poll: %v", err)
	}
	at := h.s.instant()
	h.s.advance(&at)
	dst := make([]driver.Message, n)
	k := h.s.take(h, &at, dst)
	h.s.arm(&at)
	h.s.unlock()
	return dst[:k]
}

// pollOne receives exactly one message or fails the test.
func pollOne(t *testing.T, s driver.Subscription) driver.Message {
	t.Helper()
	got := poll(t, s, 10)
	if len(got) != 1 {
		t.Fatalf("got %d messages (%v), want 1", len(got), bodies(got))
	}
	return got[0]
}

func pollNone(t *testing.T, s driver.Subscription) {
	t.Helper()
	if got := poll(t, s, 10); len(got) != 0 {
		t.Fatalf("got %d messages %v, want none", len(got), bodies(got))
	}
}

func bodies(ms []driver.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Body)
	}
	return out
}

func ack(t *testing.T, s driver.Subscription, ms ...driver.Message) {
	t.Helper()
	ids := make([]driver.AckID, len(ms))
	for i, m := range ms {
		ids[i] = m.AckID
	}
	if err := s.Ack(context.Background(), ids); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

func nack(t *testing.T, s driver.Subscription, d time.Duration, ms ...driver.Message) {
	t.Helper()
	ids := make([]driver.AckID, len(ms))
	for i, m := range ms {
		ids[i] = m.AckID
	}
	if err := s.Nack(context.Background(), ids, d); err != nil {
		t.Fatalf("Nack: %v", err)
	}
}

func wantCode(t *testing.T, err error, code driver.ErrorCode) {
	t.Helper()
	if got := driver.CodeOf(err); got != code {
		t.Fatalf("error %v: code %v, want %v", err, got, code)
	}
}
