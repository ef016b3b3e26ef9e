package watermill

import (
	"net/url"
	"slices"
	"testing"

	"github.com/portmq/portmq/internal/testenv"
)

// FuzzParseURL checks that the URL parser never panics, fails only with
// errors wrapping driver.ErrInvalidURL that do not repeat the password,
// and hands the backend a topic, only the backend's own parameters, and
// no negative limit or lease.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"watermill+gochannel://orders?subscription=g&visibility=1s&max_body=1024&dead_letter=orders.dlq",
		"watermill+amqp://alice:s3cr3t-pw@orders?subscription=g&region=x",
		"watermill+x://u:hunter22@orders?max_body=-1", "watermill+x://orders?visibility=forever&subscription=g",
		"watermill+x:opaque", "watermill+x://", "watermill+x://orders?bogus=1", "watermill+x://orders?subscription=",
	} {
		f.Add(s)
	}
	b := Backend{Params: []string{"region", "durable"}, MaxBodySize: 4096}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, sub := range []bool{false, true} {
			parse := func(u *url.URL) error { _, err := parseURL(u, b, sub); return err }
			if testenv.CheckURLError(t, raw, u, parse) != nil {
				continue
			}
			p, _ := parseURL(u, b, sub)
			if p.req.Topic == "" || p.maxBody < 0 || p.lease < 0 || sub && p.req.Subscription == "" {
				t.Fatalf("%q: accepted %+v", raw, p)
			}
			for k := range p.req.Query {
				if !slices.Contains(b.Params, k) {
					t.Fatalf("%q: the backend gets parameter %q, not its own", raw, k)
				}
			}
		}
	})
}
