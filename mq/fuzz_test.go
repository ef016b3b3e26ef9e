package mq_test

import (
	"context"
	"strings"
	"testing"

	_ "github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
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
		check := func(what string, err error) {
			if err == nil {
				return
			}
			if mq.Code(err) == mq.Unknown {
				t.Errorf("%s(%q): unclassified error %v", what, raw, err)
			}
			if pw := password(raw); pw != "" && len(pw) > 3 && strings.Contains(err.Error(), pw) {
				t.Errorf("%s(%q): error leaks the password: %v", what, raw, err)
			}
		}
		p, err := mq.OpenProducer(ctx, raw)
		check("OpenProducer", err)
		if err == nil {
			_ = p.Shutdown(ctx)
		}
		s, err := mq.OpenSubscription(ctx, raw)
		check("OpenSubscription", err)
		if err == nil {
			_ = s.Shutdown(ctx)
		}
		a, err := mq.OpenAdmin(ctx, raw)
		check("OpenAdmin", err)
		if err == nil {
			_ = a.Close()
		}
	})
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
