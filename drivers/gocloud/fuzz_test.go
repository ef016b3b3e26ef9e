package gocloud

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portmq/portmq/internal/testenv"
)

// passwords returns the passwords of u and of the URLs in its query
// values (retry_topic and dead_letter hold URLs) that appear nowhere else
// in raw once removed, and have at least 4 bytes.
func passwords(u *url.URL) []string {
	var pws []string
	add := func(v *url.URL) {
		if pw, ok := v.User.Password(); ok && len(pw) >= 4 {
			pws = append(pws, pw)
		}
	}
	add(u)
	if vals, err := url.ParseQuery(u.RawQuery); err == nil {
		for _, vs := range vals {
			for _, v := range vs {
				if pu, err := url.Parse(v); err == nil {
					add(pu)
				}
			}
		}
	}
	return pws
}

// FuzzParseURL checks that the producer and subscription URL parsers never
// panic, fail only with errors wrapping driver.ErrInvalidURL, and never
// repeat a password, the URL's own or one inside a topic URL parameter.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"gocloud+rabbit://payments?prefetch_count=10&visibility=45s&max_attempts=5&retry_topic=rabbit://orders&dead_letter=gocloud%2Brabbit://orders.dlq&name=pay",
		"gocloud+mem://orders?ackdeadline=1m", "gocloud+rabbit://u:s3cr3t-pw@payments",
		"gocloud+rabbit://p?dead_letter=rabbit://u:s3cr3t-pw@h/x&max_attempts=1",
		"gocloud+rabbit://p?retry_topic=%zz",
		// Errors used to echo the query, and the password of a topic URL in it.
		"gocloud+rabbit://p?dead_letter=rabbit://u:s3cr3t-pw@h/x#frag", "gocloud+awssqs://q?region=x&visibility=-1s", "gocloud+://x",
		"gocloud+mem:opaque", "gocloud+mem://t#f", "gocloud+mem://t?bogus=1", "gocloud+mem://?name=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		// The URL's own password: CheckURLError, which parses again with
		// another password to tell the parser's words from a leak.
		// Passwords of topic URLs in the query: none may appear in an
		// error unless the raw URL repeats them.
		pws := passwords(u)
		check := func(parse func(*url.URL) error) error {
			t.Helper()
			err := testenv.CheckURLError(t, raw, u, parse)
			if err == nil {
				return nil
			}
			own, _ := u.User.Password()
			for _, pw := range pws {
				if pw != own && strings.Contains(err.Error(), pw) && strings.Count(raw, pw) <= 1 &&
					!strings.Contains(u.Host+u.Path, pw) {
					t.Fatalf("%q: error leaks a password: %v", raw, err)
				}
			}
			return err
		}
		check(func(u *url.URL) error { _, err := parseTopicURL(u); return err })
		if check(func(u *url.URL) error { _, err := parseSubURL(u); return err }) == nil {
			su, _ := parseSubURL(u)
			if su.name == "" || su.lease < 0 || su.maxAttempts < 0 || su.maxAttempts > 0 && su.deadLetter == nil {
				t.Fatalf("%q: accepted %+v", raw, su)
			}
		}
	})
}
