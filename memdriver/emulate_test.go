package memdriver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestEmulateFlagsDeclareNone(t *testing.T) {
	tests := []struct {
		emu  Emulate
		none []string
	}{
		{0, nil},
		{EmulateLease, []string{"lease"}},
		{EmulateNackDelay, []string{"nack-delay"}},
		{EmulateDelay, []string{"delay"}},
		{EmulateDeadLetter, []string{"dead-letter"}},
		{EmulateAll, []string{"lease", "nack-delay", "delay", "dead-letter"}},
	}
	for _, tt := range tests {
		t.Run(tt.emu.String(), func(t *testing.T) {
			v := newEnv(t)
			s := v.sub("t", "s", nil, &SubscriptionOptions{Emulate: tt.emu})
			none := map[string]bool{}
			for _, n := range tt.none {
				none[n] = true
			}
			for _, f := range s.Capabilities().Features() {
				want := driver.Native
				if none[f.Name] {
					want = driver.None
				}
				if f.Support != want {
					t.Errorf("%s = %v, want %v", f.Name, f.Support, want)
				}
			}
		})
	}
}

func TestEmulateLeaseNeverExpires(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{Lease: time.Second}, &SubscriptionOptions{Emulate: EmulateLease})
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	if !m.Deadline.IsZero() {
		t.Fatalf("Deadline %v", m.Deadline)
	}
	if err := s.(driver.Extender).Extend(context.Background(), []driver.AckID{m.AckID}, time.Hour); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(24 * time.Hour)
	pollNone(t, s)
	if s.Info().Lease != time.Second {
		t.Fatalf("Info().Lease %v", s.Info().Lease)
	}
	ack(t, s, m)
}

func TestEmulateLeaseCloseStillReturnsDeliveries(t *testing.T) {
	v := newEnv(t)
	s, _ := v.e.OpenSubscription("t", "s", nil, &SubscriptionOptions{Emulate: EmulateLease})
	other := v.sub("t", "s", nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	pollOne(t, s)
	_ = s.Close()
	if m := pollOne(t, other); m.Attempt != 2 {
		t.Fatalf("attempt %d", m.Attempt)
	}
}

func TestEmulateNackDelayRejectsDelays(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, &SubscriptionOptions{Emulate: EmulateNackDelay})
	sendBodies(t, v.topic("t", nil), "m")
	m := pollOne(t, s)
	err := s.Nack(context.Background(), []driver.AckID{m.AckID}, time.Second)
	if !errors.Is(err, errors.ErrUnsupported) && driver.CodeOf(err) != driver.Unsupported {
		t.Fatalf("Nack(1s) = %v", err)
	}
	wantCode(t, err, driver.Unsupported)
	nack(t, s, 0, m)
	if m := pollOne(t, s); m.Attempt != 2 {
		t.Fatalf("attempt %d", m.Attempt)
	}
}

func TestEmulateDelayStillHonoursDelay(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", nil, &SubscriptionOptions{Emulate: EmulateDelay})
	tp, err := v.e.openTopic("t", nil, EmulateDelay, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Capabilities().Delay != driver.None {
		t.Fatal("topic Delay not None")
	}
	send(t, tp, driver.Message{Body: []byte("m"), Delay: time.Second})
	pollNone(t, s)
	v.clk.Advance(time.Second)
	pollOne(t, s)
}

func TestEmulateDeadLetterNeverDeadLetters(t *testing.T) {
	v := newEnv(t)
	s := v.sub("t", "s", &driver.SubscriptionConfig{MaxAttempts: 2, Lease: time.Second}, &SubscriptionOptions{Emulate: EmulateDeadLetter})
	dlq := v.sub("t.s.dlq", DeadLetterSubscription, nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	for attempt := 1; attempt <= 4; attempt++ {
		m := pollOne(t, s)
		if m.Attempt != attempt {
			t.Fatalf("attempt %d, want %d", m.Attempt, attempt)
		}
		if attempt%2 == 0 {
			nack(t, s, 0, m)
		} else {
			v.clk.Advance(time.Second)
		}
	}
	pollNone(t, dlq)
	if s.Info().MaxAttempts != 2 || !s.Info().HasDeadLetter {
		t.Fatalf("Info %+v", s.Info())
	}
	m := pollOne(t, s)
	err := s.(driver.DeadLetterer).DeadLetter(context.Background(), []driver.DeadLetter{{AckID: m.AckID}})
	wantCode(t, err, driver.Unsupported)
	if !errors.Is(err, errors.ErrUnsupported) && driver.CodeOf(err) != driver.Unsupported {
		t.Fatal(err)
	}

	// mq republishes through the dead-letter topic itself.
	tp, err := s.(driver.DeadLetterTopicOpener).OpenDeadLetterTopic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	send(t, tp, driver.Message{Body: m.Body, Attributes: map[string]string{driver.AttrDeadLetterReason: "emulated"}})
	ack(t, s, m)
	if d := pollOne(t, dlq); d.Attributes[driver.AttrDeadLetterReason] != "emulated" {
		t.Fatalf("dead letter %v", d.Attributes)
	}
}

func TestEmulationIsPerHandle(t *testing.T) {
	v := newEnv(t)
	cfg := &driver.SubscriptionConfig{MaxAttempts: 1}
	emu := v.sub("t", "s", cfg, &SubscriptionOptions{Emulate: EmulateDeadLetter})
	native := v.sub("t", "s", cfg, nil)
	dlq := v.sub("t.s.dlq", DeadLetterSubscription, nil, nil)
	sendBodies(t, v.topic("t", nil), "m")
	nack(t, emu, 0, pollOne(t, emu))
	pollNone(t, dlq)
	nack(t, native, 0, pollOne(t, native))
	pollOne(t, dlq)
}

func TestEmulateString(t *testing.T) {
	if got := (EmulateLease | EmulateDeadLetter).String(); got != "lease,dead_letter" {
		t.Fatalf("String = %q", got)
	}
	if e, ok := parseEmulate("all"); !ok || e != EmulateAll {
		t.Fatal("all")
	}
	if _, ok := parseEmulate("lease,bogus"); ok {
		t.Fatal("bogus accepted")
	}
}
