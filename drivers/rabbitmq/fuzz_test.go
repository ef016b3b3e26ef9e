package rabbitmq

import (
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

// FuzzParseURL checks that the URL parser never panics, fails only with
// typed errors that do not leak the password, and never puts the
// password in the redacted URL.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"amqp://guest:s3cr3t-pw@localhost:5672/?topic=orders",
		"amqps://alice:s%3Fcret@broker.example:5671/prod?topic=orders&max_in_flight=64&max_body=1024&unroutable=drop&heartbeat=30s&dial_timeout=5s",
		"amqp://u:hunter22@h/vh?subscription=s&topic=t&visibility=1s&max_attempts=3&dead_letter=d&ordered=true&prefetch=10&idle_cancel=0",
		"amqp://u:hunter22@h/?heartbeat=1.5s", "amqp://u:hunter22@h/a/b", "amqp://h?bogus=hunter22",
		"amqp://h/?topic=" + strings.Repeat("x", 300), "amqp:opaque", "amqp://", "http://h/", "amqp://h/#f",
	} {
		f.Add(s)
	}
	o := new(URLOpener)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, allowed := range [][]string{topicParams, subParams, nil} {
			// Each step parses from u again, so that CheckURLError can run
			// it on u with another password.
			step := func(then func(q query) error) func(*url.URL) error {
				return func(u *url.URL) error {
					_, q, err := o.parse(u, allowed)
					if err != nil || then == nil {
						return err
					}
					return then(q)
				}
			}
			if testenv.CheckURLError(t, raw, u, step(nil)) != nil {
				continue
			}
			ep, q, _ := o.parse(u, allowed)
			if pw := ep.password; len(pw) >= 4 && strings.Contains(ep.redacted, pw) && !strings.Contains(u.Host+u.Path+u.User.Username(), pw) {
				t.Fatalf("%q: redacted URL %q has the password", raw, ep.redacted)
			}
			testenv.CheckURLError(t, raw, u, step(func(q query) error { _, err := q.name("topic", allowed == nil); return err }))
			testenv.CheckURLError(t, raw, u, step(func(q query) error { _, err := q.name("subscription", false); return err }))
			testenv.CheckURLError(t, raw, u, step(func(q query) error { _, err := q.topicOptions(); return err }))
			if testenv.CheckURLError(t, raw, u, step(func(q query) error { _, err := q.subscriptionOptions(); return err })) == nil {
				so, _ := q.subscriptionOptions()
				if so.Lease < 0 || so.Prefetch < 0 || so.MaxAttempts < 0 {
					t.Fatalf("%q: negative option %+v", raw, so)
				}
			}
		}
	})
}

// FuzzHeaders checks newEntry on headers as any publisher (or the broker)
// may set them: no panic, an attempt of at least 1, and no internal or
// broker header among the attributes.
func FuzzHeaders(f *testing.F) {
	f.Add("color", "red", uint8(0), int64(2), "1 q", "q", "rejected", "", "")
	f.Add("n", "", uint8(3), int64(-5), "x q", "other", "delivery_limit", "ex", dlKeyPrefix+"3")
	f.Add("portmq-key", "k", uint8(1), int64(1<<62), "9223372036854775807 q", "q", "delivery_limit", "", dlKeyPrefix+"9223372036854775807")
	f.Add("x-first-death-queue", "q", uint8(4), int64(0), "", "q.wait.1s.bucket", "expired", "", "")
	const queue = "q"
	f.Fuzz(func(t *testing.T, k, v string, kind uint8, count int64, prior, dq, dreason, dex, rkey string) {
		var val any
		switch kind % 8 {
		case 0:
			val = v
		case 1:
			val = []byte(v)
		case 2:
			val = len(v)%2 == 0
		case 3:
			val = count
		case 4:
			val = float64(count) / 3
		case 5:
			val = time.Unix(count%(1<<40), 0)
		case 6:
			val = amqp.Table{v: v}
		default:
			val = []any{v, count}
		}
		h := amqp.Table{k: val, hdrDeliveryCount: count, hdrPrior: prior}
		if kind&8 != 0 {
			h[hdrDeliveryCount] = int32(count)
		}
		if kind&16 != 0 {
			h[hdrDeath] = []any{amqp.Table{"queue": dq, "reason": dreason, "exchange": dex}, v}
		} else if kind&32 != 0 {
			h[hdrDeath] = v // not a list
		}
		d := &amqp.Delivery{Headers: h, RoutingKey: rkey, Body: []byte(v), MessageId: "m"}
		e := newEntry(d, queue)
		if e.attempt < 1 {
			t.Fatalf("headers %v: attempt %d, want at least 1", h, e.attempt)
		}
		for a := range e.attrs {
			if brokerHeader(a) && a != driver.AttrDeadLetterReason {
				t.Fatalf("headers %v: attribute %q is internal", h, a)
			}
		}
		if n, ok := e.attrs[driver.AttrAttempts]; ok && strings.HasPrefix(n, "-") && k != driver.AttrAttempts {
			t.Fatalf("headers %v: negative %s %q", h, driver.AttrAttempts, n)
		}
		var m driver.Message
		e.handout(&m, nil)
		_ = e.republishing(map[string]string{"extra": v})
	})
}
