package rabbitmq

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// checkURLError fails t unless err is nil, wraps driver.ErrInvalidURL or
// carries a code, and unless it keeps u's password to itself (when the
// password appears nowhere else in the URL).
func checkURLError(t *testing.T, raw string, u *url.URL, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, driver.ErrInvalidURL) && driver.CodeOf(err) == driver.Unknown {
		t.Fatalf("%q: untyped error %v", raw, err)
	}
	if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(err.Error(), pw) {
		c := *u
		c.User = nil
		rest := c.String() + " " + c.Path + " " + u.User.Username()
		if q, err := url.QueryUnescape(c.RawQuery); err == nil {
			rest += " " + q
		}
		if !strings.Contains(rest, pw) {
			t.Fatalf("%q: error leaks the password: %v", raw, err)
		}
	}
}

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
			ep, q, err := o.parse(u, allowed)
			checkURLError(t, raw, u, err)
			if err != nil {
				continue
			}
			if pw := ep.password; len(pw) >= 4 && strings.Contains(ep.redacted, pw) && !strings.Contains(u.Host+u.Path+u.User.Username(), pw) {
				t.Fatalf("%q: redacted URL %q has the password", raw, ep.redacted)
			}
			_, err = q.name("topic", allowed == nil)
			checkURLError(t, raw, u, err)
			_, err = q.name("subscription", false)
			checkURLError(t, raw, u, err)
			_, err = q.topicOptions()
			checkURLError(t, raw, u, err)
			so, err := q.subscriptionOptions()
			checkURLError(t, raw, u, err)
			if err == nil && (so.Lease < 0 || so.Prefetch < 0 || so.MaxAttempts < 0) {
				t.Fatalf("%q: negative option %+v", raw, so)
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
