package sqs

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
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
		for _, allowed := range [][]string{topicParams, subParams} {
			// Each step parses from u again, so that CheckURLError can
			// run it on u with another password.
			step := func(then func(q awsmq.Query) error) func(*url.URL) error {
				return func(u *url.URL) error {
					_, q, err := parseURL(u, allowed)
					if err != nil || then == nil {
						return err
					}
					return then(q)
				}
			}
			if testenv.CheckURLError(t, raw, u, step(nil)) != nil {
				continue
			}
			_, q, _ := parseURL(u, allowed)
			testenv.CheckURLError(t, raw, u, step(func(q awsmq.Query) error { _, err := ownerParam(q); return err }))
			o, err := SubscriptionOptionsFromQuery(q)
			testenv.CheckURLError(t, raw, u, step(func(q awsmq.Query) error { _, err := SubscriptionOptionsFromQuery(q); return err }))
			if err == nil && (o.Wait < 0 || o.Wait > MaxWait || o.Visibility < 0 || o.Visibility > MaxVisibility) {
				t.Fatalf("%q: options out of range: %+v", raw, o)
			}
			testenv.CheckURLError(t, raw, u, step(func(q awsmq.Query) error { _, err := q.Params(); return err }))
		}
	})
}
