package sns

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/internal/testenv"
)

// FuzzParseURL checks that the sns:// URL parser never panics and fails
// only with errors wrapping driver.ErrInvalidURL that do not repeat the
// user info (which sns URLs refuse).
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"sns://orders/billing?region=eu-west-1&endpoint=http://127.0.0.1:5000&owner=123456789012&wait=5s&visibility=1m",
		"sns://orders.fifo/billing.fifo", "sns://orders", "sns://user:s3cr3t-pw@orders/q",
		"sns://orders/a/b", "sns://" + strings.Repeat("t", 257), "sns:opaque", "sns://orders?bogus=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, allowed := range [][]string{awsmq.ConnParams, subParams} {
			// Each step parses from u again, so that CheckURLError can
			// run it on u with another password.
			step := func(then func(q awsmq.Query) error) func(*url.URL) error {
				return func(u *url.URL) error {
					_, _, q, err := parseURL(u, allowed)
					if err != nil || then == nil {
						return err
					}
					return then(q)
				}
			}
			if testenv.CheckURLError(t, raw, u, step(nil)) != nil {
				continue
			}
			topic, queue, _, _ := parseURL(u, allowed)
			if !validTopicName(topic) || queue != "" && !validQueueName(queue) {
				t.Fatalf("%q: accepted topic %q, queue %q", raw, topic, queue)
			}
			testenv.CheckURLError(t, raw, u, step(func(q awsmq.Query) error { _, err := sqs.SubscriptionOptionsFromQuery(q); return err }))
			testenv.CheckURLError(t, raw, u, step(func(q awsmq.Query) error { _, err := q.Params(); return err }))
		}
	})
}
