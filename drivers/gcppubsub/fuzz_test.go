package gcppubsub

import (
	"maps"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

// FuzzParseURL checks that the URL parsers never panic, accept only valid
// names and fail only with errors wrapping driver.ErrInvalidURL that do
// not repeat the user info (which gcppubsub URLs refuse).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"gcppubsub://projects/p-1/topics/orders?batch_delay=10ms",
		"gcppubsub://projects/p-1/subscriptions/billing?ack_deadline=30s&max_attempts=5&dead_letter=projects/p-1/topics/dlq&ordered=true",
		"gcppubsub://p-1/orders", "gcppubsub://projects/p-1", "gcppubsub://p-1",
		"gcppubsub://user:s3cr3t-pw@p-1/orders", "gcppubsub://p-1/goog-x", "gcppubsub://p-1/ab",
		"gcppubsub://projects/p-1/topics/a/b", "gcppubsub:opaque", "gcppubsub://p-1/orders#f", "gcppubsub://p-1/orders?x=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, k := range []struct {
			kind    string
			allowed []string
		}{{kindTopic, topicParams}, {kindSubscription, subParams}} {
			parse := func(u *url.URL) error { _, _, _, err := parseURL(u, k.kind, k.allowed); return err }
			if testenv.CheckURLError(t, raw, u, parse) != nil {
				continue
			}
			project, id, q, _ := parseURL(u, k.kind, k.allowed)
			if !validProject(project) || checkID(k.kind, id) != nil {
				t.Fatalf("%q: accepted project %q, ID %q", raw, project, id)
			}
			if v, ok := q["dead_letter"]; ok {
				if _, err := resolveName(project, kindTopic, v); err != nil && driver.CodeOf(err) != driver.InvalidArgument {
					t.Fatalf("%q: dead_letter: %v", raw, err)
				}
			}
		}
		if testenv.CheckURLError(t, raw, u, func(u *url.URL) error { _, err := parseProject(u); return err }) == nil {
			if project, _ := parseProject(u); !validProject(project) {
				t.Fatalf("%q: accepted project %q", raw, project)
			}
		}
	})
}

// FuzzAttributes checks fromAttributes on attributes as Pub/Sub delivers
// them, from portmq or any other publisher (and Pub/Sub's own dead-letter
// attributes): no panic, no internal attribute left, a dead-letter
// attempt count that is a number, and portmq's own messages coming back
// as sent.
func FuzzAttributes(f *testing.F) {
	f.Add("color", "red", "d-1", "", "")
	f.Add(nativeDLQCount, "5", "", "sub", "p")
	f.Add(nativeDLQCount, "five", "", "", "")
	f.Add(attrEmpty, "1", "", "s", "")
	f.Fuzz(func(t *testing.T, k, v, dedup, dlqSub, dlqProject string) {
		attrs := map[string]string{k: v, attrDedupID: dedup, nativeDLQSubscription: dlqSub, nativeDLQProject: dlqProject}
		got, gotDedup := fromAttributes(maps.Clone(attrs))
		if _, ok := got[attrDedupID]; ok {
			t.Fatalf("%v: %s kept", attrs, attrDedupID)
		}
		if _, ok := got[attrEmpty]; ok {
			t.Fatalf("%v: %s kept", attrs, attrEmpty)
		}
		if gotDedup != dedup && k != attrDedupID {
			t.Fatalf("%v: DedupID %q", attrs, gotDedup)
		}
		if n, ok := got[driver.AttrAttempts]; ok && k != driver.AttrAttempts {
			if a, err := strconv.Atoi(n); err != nil || a < 1 {
				t.Fatalf("%v: %s %q is not a positive count", attrs, driver.AttrAttempts, n)
			}
		}
		// Round trip of what portmq sends.
		if strings.HasPrefix(k, driver.AttrPrefix) || k == nativeDLQCount {
			return
		}
		m := driver.Message{Body: []byte(v), Attributes: map[string]string{k: v}, DedupID: dedup}
		if v == "" {
			m.Body, m.Attributes = nil, nil
		}
		pm := toPubsub(&m)
		back, backDedup := fromAttributes(maps.Clone(pm.Attributes))
		if !maps.Equal(back, m.Attributes) || backDedup != dedup {
			t.Fatalf("attributes %v, DedupID %q came back as %v, %q", m.Attributes, dedup, back, backDedup)
		}
	})
}
