package memdriver

import (
	"context"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestMaxAttemptsDeadLetters(t *testing.T) {
	tests := []struct {
		name   string
		fail   func(v *env, s driver.Subscription, m driver.Message)
		reason string
	}{
		{"nack", func(v *env, s driver.Subscription, m driver.Message) { nack(v.t, s, 0, m) }, "max attempts (3) reached"},
		{"lease expiry", func(v *env, s driver.Subscription, m driver.Message) { v.clk.Advance(time.Second) }, "lease expired after max attempts (3)"},
		{"close", func(v *env, s driver.Subscription, m driver.Message) {}, "handle closed after max attempts (3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t)
			cfg := &driver.SubscriptionConfig{Lease: time.Second, MaxAttempts: 3}
			s := v.sub("orders", "billing", cfg, nil)
			dlq := v.sub("orders.billing.dlq", DeadLetterSubscription, nil, nil)
			ids := send(t, v.topic("orders", nil), driver.Message{Body: []byte("poison"), Attributes: map[string]string{"a": "1"}, Key: "k"})
			for attempt := 1; attempt <= 3; attempt++ {
				h := s
				if tt.name == "close" {
					var err error
					if h, err = v.e.OpenSubscription("orders", "billing", nil, nil); err != nil {
						t.Fatal(err)
					}
				}
				m := pollOne(t, h)
				if m.Attempt != attempt {
					t.Fatalf("attempt %d, want %d", m.Attempt, attempt)
				}
				pollNone(t, dlq)
				tt.fail(v, h, m)
				if tt.name == "close" {
					_ = h.Close()
				}
			}
			pollNone(t, s)
			d := pollOne(t, dlq)
			want := map[string]string{
				"a":                         "1",
				driver.AttrDeadLetterReason: tt.reason,
				driver.AttrAttempts:         "3",
				driver.AttrSource:           "orders/billing",
			}
			if string(d.Body) != "poison" || d.Key != "k" || d.ID == ids[0] || d.Attempt != 1 {
				t.Fatalf("dead letter %+v", d)
			}
			if len(d.Attributes) != len(want) {
				t.Fatalf("attributes %v, want %v", d.Attributes, want)
			}
			for k, w := range want {
				if d.Attributes[k] != w {
					t.Fatalf("attribute %s = %q, want %q", k, d.Attributes[k], w)
				}
			}
			v.clk.Advance(time.Hour)
			pollNone(t, s)
		})
	}
}

func TestDeadLetterMovesAtOnceWithTheReason(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{DeadLetterTopic: "graveyard"}, nil)
	dlq := v.sub("graveyard", DeadLetterSubscription, nil, nil)
	sendBodies(t, v.topic("t", nil), "a", "b")
	ms := poll(t, s, 2)
	err := s.(driver.DeadLetterer).DeadLetter(context.Background(), []driver.DeadLetter{{AckID: ms[0].AckID, Reason: "bad input"}})
	if err != nil {
		t.Fatal(err)
	}
	d := pollOne(t, dlq)
	if string(d.Body) != "a" || d.Attributes[driver.AttrDeadLetterReason] != "bad input" ||
		d.Attributes[driver.AttrAttempts] != "1" || d.Attributes[driver.AttrSource] != "t/s" {
		t.Fatalf("dead letter %q %v", d.Body, d.Attributes)
	}
	if s.Info().HasDeadLetter != true {
		t.Fatal("HasDeadLetter false")
	}
	ack(t, s, ms[1])
	v.clk.Advance(time.Hour)
	pollNone(t, s)
	wantCode(t, s.Ack(context.Background(), []driver.AckID{ms[0].AckID}), driver.FailedPrecondition)
}

func TestDeadLetterWithoutTopicIsFailedPrecondition(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "a")
	m := pollOne(t, s)
	err := s.(driver.DeadLetterer).DeadLetter(context.Background(), []driver.DeadLetter{{AckID: m.AckID}})
	wantCode(t, err, driver.FailedPrecondition)
	ack(t, s, m) // still leased
}

func TestDeadLetterTopicGetsADLQSubscriptionOnlyIfItHasNone(t *testing.T) {
	v := newEnv(t)
	v.sub("audit", "reader", nil, nil)
	v.sub("t", "s", &driver.SubscriptionConfig{MaxAttempts: 1, DeadLetterTopic: "audit"}, nil)
	v.e.mu.Lock()
	defer v.e.mu.Unlock()
	if _, ok := v.e.topics["audit"].byName[DeadLetterSubscription]; ok {
		t.Fatal("dlq subscription added to a topic that had one")
	}
}

func TestDeadLetterToOwnTopicDoesNotDeadlock(t *testing.T) {
	v := newEnv(t)
	s := v.sub("loop", "s", &driver.SubscriptionConfig{MaxAttempts: 1, DeadLetterTopic: "loop"}, nil)
	sendBodies(t, v.topic("loop", nil), "m")
	nack(t, s, 0, pollOne(t, s))
	d := pollOne(t, s)
	if d.Attributes[driver.AttrDeadLetterReason] == "" || d.Attempt != 1 {
		t.Fatalf("dead letter %+v", d)
	}
}

// A dead letter keeps the message's Key and DedupID, as mq's emulated
// dead-lettering does.
func TestDeadLetterKeepsKeyAndDedupID(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{DeadLetterTopic: "graveyard"}, nil)
	dlq := v.sub("graveyard", DeadLetterSubscription, nil, nil)
	if err := v.topic("t", nil).SendBatch(context.Background(), []driver.Message{{Body: []byte("a"), Key: "k", DedupID: "order-1"}}); err != nil {
		t.Fatal(err)
	}
	ms := poll(t, s, 1)
	if err := s.(driver.DeadLetterer).DeadLetter(context.Background(), []driver.DeadLetter{{AckID: ms[0].AckID, Reason: "bad"}}); err != nil {
		t.Fatal(err)
	}
	if d := pollOne(t, dlq); d.Key != "k" || d.DedupID != "order-1" {
		t.Fatalf("dead letter key %q, DedupID %q; want k, order-1", d.Key, d.DedupID)
	}
}
