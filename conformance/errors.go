package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"

	"github.com/portmq/portmq/mq"
)

// Rule 14: errors classify, match sentinels, hide credentials, and nothing
// panics.

func testDoubleSettle(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	a := e.sendBody(p, "settle-a")
	b := e.sendBody(p, "settle-b")
	settled := func(what string, f func() error) {
		t.Helper()
		switch err := protect(f); {
		case isPanic(err):
			t.Errorf("%s panicked: %v", what, err)
		case !errors.Is(err, mq.ErrSettled) || mq.Code(err) != mq.FailedPrecondition:
			t.Errorf("%s = %v (code %v), want an error matching ErrSettled", what, err, mq.Code(err))
		}
	}
	var acked, nacked *mq.Delivery
	for acked == nil || nacked == nil {
		d := e.recv(sub, e.tm.patience, "the two messages")
		switch d.ID {
		case a.ID:
			if err := d.Ack(); err != nil {
				t.Fatalf("first Ack: %v", err)
			}
			acked = d
		case b.ID:
			if err := d.Nack(0); err != nil {
				t.Fatalf("first Nack: %v", err)
			}
			nacked = d
		default:
			t.Fatalf("received %s, which was not sent", describe(d))
		}
	}
	settled("Ack after Ack", acked.Ack)
	settled("Nack after Ack", func() error { return acked.Nack(0) })
	settled("DeadLetter after Ack", func() error { return acked.DeadLetter("twice") })
	settled("Extend after Ack", func() error { return acked.Extend(e.tm.lease) })
	settled("Ack after Nack", nacked.Ack)
	settled("Nack after Nack", func() error { return nacked.Nack(0) })
	// The nacked message comes back; the acked one does not.
	d := e.recv(sub, e.tm.patience, "the nacked message")
	if d.ID != b.ID {
		t.Errorf("received %s, want the nacked message %s (an Ack after Ack must not undo the first)", describe(d), b.ID)
	}
	e.ack(d)
	for _, d := range e.expectNone(sub, e.tm.quiet, "the acked message must stay acked after the failed second calls") {
		e.ack(d)
	}
}

func testAckAfterExpiry(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	m := e.sendBody(p, "expire-me")
	d1 := e.recv(sub, e.tm.patience, "the message")
	d2 := e.recv(sub, e.tm.patience, "the redelivery after the lease ended")
	if d1.ID != m.ID || d2.ID != m.ID {
		t.Fatalf("received %s and %s, want %s twice", describe(d1), describe(d2), m.ID)
	}
	err := protect(d1.Ack)
	switch {
	case isPanic(err):
		t.Fatalf("Ack of an expired delivery panicked: %v", err)
	case err == nil:
		t.Errorf("Ack of a delivery whose lease ended and whose message was redelivered returned nil")
	case errors.Is(err, mq.ErrLeaseExpired):
	case mq.Code(err) == mq.FailedPrecondition:
		t.Logf("Ack of an expired delivery = %v: FailedPrecondition but not ErrLeaseExpired", err)
	default:
		t.Errorf("Ack of an expired delivery = %v (code %v), want ErrLeaseExpired", err, mq.Code(err))
	}
	if err := d2.Ack(); err != nil {
		t.Errorf("Ack of the current delivery after the stale one failed: %v", err)
	}
	for _, d := range e.expectNone(sub, e.tm.quiet, "the message was acked by its current delivery") {
		e.ack(d)
	}
}

func randomScheme() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "nosuch" + hex.EncodeToString(b[:])
}

func testUnknownScheme(t tb, s *suite) {
	scheme := randomScheme()
	for name, open := range openers(s, scheme+"://topic", scheme+"://topic/sub") {
		err := open(t.Context())
		switch {
		case isPanic(err):
			t.Errorf("%s panicked: %v", name, err)
		case err == nil:
			t.Errorf("%s with the unregistered scheme %q succeeded", name, scheme)
		case !strings.Contains(err.Error(), scheme):
			t.Errorf("%s error %q does not name the scheme %q", name, err, scheme)
		}
	}
	if err := protect(func() error { _, err := s.mux.OpenAdmin(t.Context(), scheme+"://"); return err }); err == nil || !strings.Contains(err.Error(), scheme) {
		t.Errorf("OpenAdmin(%s://) = %v, want an error naming the scheme", scheme, err)
	}
}

// openers returns functions that open a producer on topicURL and a
// subscription on subURL, shutting down what opens, and report the error.
func openers(s *suite, topicURL, subURL string) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"OpenProducer(" + topicURL + ")": func(ctx context.Context) error {
			return protect(func() error {
				p, err := s.mux.OpenProducer(ctx, topicURL)
				if err == nil {
					_ = p.Shutdown(ctx)
				}
				return err
			})
		},
		"OpenSubscription(" + subURL + ")": func(ctx context.Context) error {
			return protect(func() error {
				sub, err := s.mux.OpenSubscription(ctx, subURL)
				if err == nil {
					_ = sub.Shutdown(ctx)
				}
				return err
			})
		},
	}
}

// withQuery returns u with an extra query parameter.
func withQuery(t tb, u, key, value string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatalf("harness URL %q does not parse: %v", u, err)
	}
	q := pu.Query()
	q.Set(key, value)
	pu.RawQuery = q.Encode()
	return pu.String()
}

func testUnknownParameter(t tb, s *suite) {
	e := setup(t, s, Spec{})
	const param = "portmq_conformance_bogus"
	topicURL := withQuery(t, e.res.TopicURL, param, "1")
	subURL := withQuery(t, e.res.SubscriptionURLs[0], param, "1")
	for name, open := range openers(s, topicURL, subURL) {
		err := open(e.ctx())
		switch {
		case isPanic(err):
			t.Errorf("%s panicked: %v", name, err)
		case err == nil:
			t.Errorf("%s succeeded; an unknown query parameter must be rejected", name)
		case mq.Code(err) != mq.InvalidArgument:
			t.Errorf("%s = %v (code %v), want code InvalidArgument", name, err, mq.Code(err))
		case !strings.Contains(err.Error(), param):
			t.Logf("%s error %q does not name the parameter %q", name, err, param)
		}
	}
}

func testPasswordRedacted(t tb, s *suite) {
	e := setup(t, s, Spec{})
	const secret = "s3cret"
	withUser := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("harness URL %q does not parse: %v", raw, err)
		}
		u.User = url.UserPassword("user", secret)
		return u.String()
	}
	malformed := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("harness URL %q does not parse: %v", raw, err)
		}
		return u.Scheme + "://user:" + secret + "@" + u.Host + "/%zz" + u.Path
	}
	topicURL, subURL := e.res.TopicURL, e.res.SubscriptionURLs[0]
	variants := []struct {
		name          string
		topic, sub    string
		mustFail      bool
		wantsInvalidA bool
	}{
		{"password in userinfo", withUser(topicURL), withUser(subURL), false, false},
		{"password and an unknown parameter", withQuery(t, withUser(topicURL), "portmq_conformance_bogus", "1"), withQuery(t, withUser(subURL), "portmq_conformance_bogus", "1"), true, true},
		{"password in a malformed URL", malformed(topicURL), malformed(subURL), true, true},
		{"password with an unknown scheme", strings.Replace(withUser(topicURL), "://", "x"+randomScheme()+"://", 1), strings.Replace(withUser(subURL), "://", "x"+randomScheme()+"://", 1), true, false},
	}
	checked := 0
	for _, v := range variants {
		for name, open := range openers(s, v.topic, v.sub) {
			err := open(e.ctx())
			switch {
			case isPanic(err):
				t.Errorf("%s: %s panicked: %v", v.name, strings.ReplaceAll(name, secret, "<password>"), err)
			case err == nil:
				if v.mustFail {
					t.Errorf("%s: %s succeeded, want an error", v.name, strings.ReplaceAll(name, secret, "<password>"))
				}
			default:
				checked++
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: error contains the password: %q", v.name, err)
				}
				if v.wantsInvalidA && mq.Code(err) != mq.InvalidArgument {
					t.Errorf("%s: error %q has code %v, want InvalidArgument", v.name, strings.ReplaceAll(err.Error(), secret, "<password>"), mq.Code(err))
				}
			}
		}
	}
	t.Logf("%d error texts checked for the password", checked)
}

func testBadInput(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	noop := func(context.Context, *mq.Delivery) error { return nil }
	var nilDelivery *mq.Delivery
	zero := &mq.Delivery{}
	checks := []struct {
		name string
		f    func() error
	}{
		{"Ack on a nil *Delivery", nilDelivery.Ack},
		{"Nack on a zero Delivery", func() error { return zero.Nack(0) }},
		{"Extend on a zero Delivery", func() error { return zero.Extend(e.tm.lease) }},
		{"DeadLetter on a zero Delivery", func() error { return zero.DeadLetter("x") }},
		{"Ack on a zero Delivery", zero.Ack},
		{"ReceiveBatch(ctx, 0)", func() error { _, err := sub.ReceiveBatch(e.ctx(), 0); return err }},
		{"Send(nil)", func() error { return p.Send(e.ctx(), nil) }},
		{"SendBatch with a nil message", func() error { return p.SendBatch(e.ctx(), []*mq.Message{nil}) }},
		{"NewConsumer with a nil handler", func() error { _, err := mq.NewConsumer(sub, nil); return err }},
		{"NewConsumer with a nil subscription", func() error { _, err := mq.NewConsumer(nil, noop); return err }},
		{"WithConcurrency(0)", func() error { _, err := mq.NewConsumer(sub, noop, mq.WithConcurrency(0)); return err }},
		{"WithBackoff with Max < Min", func() error {
			_, err := mq.NewConsumer(sub, noop, mq.WithBackoff(mq.Backoff{Min: 2 * e.tm.lease, Max: e.tm.lease}))
			return err
		}},
		{"WithPrefetch(0)", func() error {
			sub, err := s.mux.OpenSubscription(e.ctx(), e.res.SubscriptionURLs[0], mq.WithPrefetch(0))
			if err == nil {
				_ = sub.Shutdown(e.ctx())
			}
			return err
		}},
	}
	m := e.sendBody(p, "bad-args")
	d := e.recv(sub, e.tm.patience, "the message")
	if d.ID != m.ID {
		t.Fatalf("received %s, want %s", describe(d), m.ID)
	}
	checks = append(checks, []struct {
		name string
		f    func() error
	}{
		{"Nack with a negative delay", func() error { return d.Nack(-e.tm.lease) }},
		{"Extend(0)", func() error { return d.Extend(0) }},
		{"Extend with a negative lease", func() error { return d.Extend(-e.tm.lease) }},
	}...)
	for _, c := range checks {
		switch err := protect(c.f); {
		case isPanic(err):
			t.Errorf("%s panicked: %v", c.name, err)
		case mq.Code(err) != mq.InvalidArgument:
			t.Errorf("%s = %v (code %v), want code InvalidArgument", c.name, err, mq.Code(err))
		}
	}
	// Rejected calls must not have settled the delivery.
	if err := d.Ack(); err != nil {
		t.Errorf("Ack after rejected Nack and Extend calls: %v", err)
	}
}
