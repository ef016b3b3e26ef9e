package mq_test

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// FuzzOpenURL checks that opening any URL either works or fails with a
// classified *mq.Error that does not leak the URL's password; it never
// panics. Seeds live in testdata/fuzz/FuzzOpenURL.
func FuzzOpenURL(f *testing.F) {
	for _, s := range []string{
		"mem://orders", "mem://orders/payments?visibility=1s&max_attempts=3",
		"mem://orders/payments?ordered=true&retention=1h&dead_letter=dlq",
		"mem://orders?dedup_window=5m", "mem://", "mem:///x", "mem://a/b/c",
		"amqp://guest:pw@localhost:5672/vh?exchange=x", "://", "", "%", "mem://o?%zz",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		// check runs open on raw; where the error's text holds the
		// password, open runs again on raw with another password of the
		// same length: occurrences that come back then are the URL's
		// other parts or the message's own words (a host that equals the
		// password: "://:ilit@ilit"), not the password.
		check := func(what string, open func(string) error) {
			err := open(raw)
			if err == nil {
				return
			}
			if mq.Code(err) == mq.Unknown {
				t.Errorf("%s(%q): unclassified error %v", what, raw, err)
			}
			pw := password(raw)
			if len(pw) <= 3 || !strings.Contains(err.Error(), pw) {
				return
			}
			vocabulary := 0
			if again := open(withPassword(raw, pw)); again != nil {
				vocabulary = strings.Count(again.Error(), pw)
			}
			if strings.Count(err.Error(), pw) > vocabulary {
				t.Errorf("%s(%q): error leaks the password: %v", what, raw, err)
			}
		}
		check("OpenProducer", func(raw string) error {
			p, err := mq.OpenProducer(ctx, raw)
			if err == nil {
				_ = p.Shutdown(ctx)
			}
			return err
		})
		check("OpenSubscription", func(raw string) error {
			s, err := mq.OpenSubscription(ctx, raw)
			if err == nil {
				_ = s.Shutdown(ctx)
			}
			return err
		})
		check("OpenAdmin", func(raw string) error {
			a, err := mq.OpenAdmin(ctx, raw)
			if err == nil {
				_ = a.Close()
			}
			return err
		})
	})
}

// withPassword returns raw with its password (see password) replaced by
// as many letters of one kind that the password does not hold.
func withPassword(raw, pw string) string {
	fill := "Q"
	for _, c := range []string{"Q", "Z", "q", "z"} {
		if !strings.Contains(pw, c) {
			fill = c
			break
		}
	}
	i := strings.Index(raw, "://") + 3
	at := i + strings.LastIndex(raw[i:], "@")
	c := i + strings.Index(raw[i:at], ":")
	return raw[:c+1] + strings.Repeat(fill, len(pw)) + raw[at:]
}

// password returns the text between "user:" and "@" of a URL-ish string.
func password(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return ""
	}
	rest := raw[i+3:]
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	c := strings.Index(rest[:at], ":")
	if c < 0 {
		return ""
	}
	return rest[c+1 : at]
}

var fuzzSeq atomic.Int64

// fuzzPair returns a fresh mem:// topic handle (driver level, so that any
// attribute can be sent) and an mq subscription on it opened with params.
func fuzzPair(t *testing.T, params string) (string, driver.Topic, *mq.Subscription) {
	t.Helper()
	name := "fuzz-" + strconv.FormatInt(fuzzSeq.Add(1), 10)
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "mem://"+name+"/s"+params)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := memdriver.Default().OpenTopic(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tp.Close()
		_ = sub.Shutdown(ctx)
		if a, err := mq.OpenAdmin(ctx, "mem://"); err == nil {
			_ = a.DeleteTopic(ctx, name)
			_ = a.Close()
		}
	})
	return name, tp, sub
}

// FuzzNotBefore sends messages whose portmq-not-before attribute (mq's
// emulated delay) holds anything: mq must not panic, must deliver at once
// what does not name a future time, without the attribute, and must hold
// what names a time well in the future.
func FuzzNotBefore(f *testing.F) {
	now := time.Now().UTC()
	for _, s := range []string{
		now.Add(-time.Hour).Format(time.RFC3339Nano), now.Add(time.Hour).Format(time.RFC3339Nano),
		"", "garbage", "2006-01-02T15:04:05Z", "9999-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00Z",
		"2006-01-02T15:04:05+25:00", "2006-01-02T15:04:05.1234567890Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		_, tp, sub := fuzzPair(t, "?emulate=delay")
		ctx := context.Background()
		msg := []driver.Message{{Body: []byte("m"), Attributes: map[string]string{driver.AttrNotBefore: v, "a": "b"}}}
		if err := tp.SendBatch(ctx, msg); err != nil {
			t.Fatal(err)
		}
		due, err := time.Parse(time.RFC3339Nano, v)
		switch until := time.Until(due); {
		case err != nil || until <= 0:
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			d, err := sub.Receive(rctx)
			if err != nil {
				t.Fatalf("not-before %q: Receive: %v, want the message at once", v, err)
			}
			if len(d.Attributes) != 1 || d.Attributes["a"] != "b" {
				t.Fatalf("not-before %q: attributes %v, want only a=b", v, d.Attributes)
			}
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		case until > time.Minute:
			rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if d, err := sub.Receive(rctx); err == nil {
				t.Fatalf("not-before %q (in %v): delivered at once: %v", v, until, d.Attributes)
			} else if mq.Code(err) != mq.DeadlineExceeded {
				t.Fatalf("not-before %q: Receive: %v, want DeadlineExceeded", v, err)
			}
		}
	})
}

// FuzzDeadLetterAttributes dead-letters, through mq's emulation, messages
// whose attributes already hold anything (including portmq's dead-letter
// attributes, as a dead letter of a dead letter does) with any reason: the
// dead letter must carry the reason (cut to redeliver.MaxReasonLen bytes at
// a character boundary), the attempt, the source and the other attributes
// unchanged, but for those a retry copy carries (redeliver.Carries), which
// it drops: the copy is redeliver.DeadLetter's, as the drivers' are.
func FuzzDeadLetterAttributes(f *testing.F) {
	f.Add("color", "red", "handler failed")
	f.Add(driver.AttrDeadLetterReason, "old reason", "new reason")
	f.Add(driver.AttrAttempts, "-1", "")
	f.Add(driver.AttrSource, "x/y", "\xff")
	f.Fuzz(func(t *testing.T, k, v, reason string) {
		name, tp, sub := fuzzPair(t, "?emulate=dead_letter&max_attempts=5")
		ctx := context.Background()
		attrs := map[string]string{k: v}
		if err := tp.SendBatch(ctx, []driver.Message{{Body: []byte("m"), Attributes: attrs}}); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		d, err := sub.Receive(rctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.DeadLetter(reason); err != nil {
			if mq.Code(err) == mq.Unknown {
				t.Fatalf("DeadLetter(%q): unclassified error %v", reason, err)
			}
			return
		}
		dlq, err := memdriver.Default().OpenSubscription(name+".s.dlq", memdriver.DeadLetterSubscription, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dlq.Close()
		got := make([]driver.Message, 1)
		if n, err := dlq.ReceiveBatch(rctx, got); n != 1 || err != nil {
			t.Fatalf("dead letter: %d, %v", n, err)
		}
		want := map[string]string{k: v}
		if redeliver.Carries(k) {
			delete(want, k)
		}
		if n := redeliver.MaxReasonLen; len(reason) > n {
			for n > 0 && reason[n]&0xC0 == 0x80 {
				n--
			}
			reason = reason[:n]
		}
		want[driver.AttrDeadLetterReason] = reason
		want[driver.AttrAttempts] = "1"
		want[driver.AttrSource] = name + "/s"
		if !maps.Equal(got[0].Attributes, want) {
			t.Fatalf("dead letter attributes %q, want %q", got[0].Attributes, want)
		}
	})
}
