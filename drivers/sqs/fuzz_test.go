package sqs

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portmq/portmq/internal/testenv"
)

// FuzzParseURL checks that the sqs:// URL parser never panics and fails
// only with errors wrapping driver.ErrInvalidURL that do not repeat the
// user info (which sqs URLs refuse).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"sqs://orders?region=eu-west-1&endpoint=http://127.0.0.1:5000&owner=123456789012",
		"sqs://orders.fifo?wait=20s&visibility=30s&profile=dev",
		"sqs://user:s3cr3t-pw@orders", "sqs://orders?endpoint=http://u:s3cr3t-pw@h",
		"sqs://orders?wait=0.5s", "sqs://orders?visibility=13h", "sqs://orders/x", "sqs://" + strings.Repeat("q", 81),
		"sqs://orders?owner=12", "sqs:opaque", "sqs://orders#f", "sqs://orders?region=EU",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		check := func(err error) {
			t.Helper()
			testenv.CheckURLError(t, raw, u, err)
		}
		for _, allowed := range [][]string{topicParams, subParams} {
			_, q, err := parseURL(u, allowed)
			check(err)
			if err != nil {
				continue
			}
			_, err = ownerParam(q)
			check(err)
			o, err := SubscriptionOptionsFromQuery(q)
			check(err)
			if err == nil && (o.Wait < 0 || o.Wait > MaxWait || o.Visibility < 0 || o.Visibility > MaxVisibility) {
				t.Fatalf("%q: options out of range: %+v", raw, o)
			}
			_, err = q.Params()
			check(err)
		}
	})
}
