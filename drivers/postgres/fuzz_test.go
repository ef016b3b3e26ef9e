package postgres

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/internal/testenv"
)

// FuzzParseURL checks that the URL parser never panics, fails only with
// errors wrapping driver.ErrInvalidURL that do not repeat the password
// (of the user info or of the password parameter), hands pgx a
// connection string without portmq's parameters, and that an error of
// pgx's own parsing of that string, as the opener reports it, does not
// repeat a password either.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"postgres://alice:s3cr3t-pw@localhost:5432/test?topic=orders&schema=portmq&dedup_window=1h",
		"postgresql://u:hunter22@h/db?subscription=s&topic=t&visibility=1s&max_attempts=3&dead_letter=d&ordered=true&poll_interval=50ms&retention=24h",
		"postgres://h/db?password=hunter22&sslmode=verify-full&pool_max_conns=4&topic=t",
		"postgres://u:s3cr3t-pw@h/db?password=hunter22&topic=t",
		"postgres://u:s3cr3t-pw@h/db?pool_max_conns=many", "postgres://u:s3cr3t-pw@h/db?password=hunter22&pool_max_conns=many",
		"postgres://u:s3cr3t-pw@h/db?sslmode=bogus", "postgres://h/db?password=hunter22&sslmode=bogus",
		"postgres://u:s3cr3t-pw@h:99999/db?connect_timeout=x",
		"postgres://h/db?schema=Bad-Name", "postgres://h/db?bogus=1", "postgres:opaque", "postgres://h/db#f",
		"postgres://h/db?topic=" + strings.Repeat("x", 300), "mysql://h/db",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, allowed := range [][]string{topicParams, subParams, adminParams} {
			// Each step parses from u again, so that CheckURLError can run
			// it on u with another password.
			step := func(then func(p *parsed) error) func(*url.URL) error {
				return func(u *url.URL) error {
					p, err := parse(u, allowed)
					if err != nil || then == nil {
						return err
					}
					return then(p)
				}
			}
			if testenv.CheckURLError(t, raw, u, step(nil)) != nil {
				continue
			}
			p, _ := parse(u, allowed)
			cu, err := url.Parse(p.connString)
			if err != nil {
				t.Fatalf("%q: connection string %q does not parse: %v", raw, p.connString, err)
			}
			for k := range cu.Query() {
				if slices.Contains(allowed, k) {
					t.Fatalf("%q: portmq's parameter %q is in pgx's connection string %q", raw, k, p.connString)
				}
			}
			for _, k := range []string{"topic", "subscription", "dead_letter"} {
				testenv.CheckURLError(t, raw, u, step(func(p *parsed) error { _, err := p.name(k); return err }))
			}
			if testenv.CheckURLError(t, raw, u, step(func(p *parsed) error { _, err := p.subscriptionOptions(); return err })) == nil {
				o, _ := p.subscriptionOptions()
				if o.Lease < 0 || o.MaxAttempts < 0 || o.PollInterval < 0 || o.Retention < 0 {
					t.Fatalf("%q: negative option in %+v", raw, o)
				}
			}
			// What the opener reports when pgx refuses the connection
			// string (before any dial).
			configErr := step(func(p *parsed) error {
				if _, err := pgxpool.ParseConfig(p.connString); err != nil {
					return configError(err, p.secret)
				}
				return nil
			})
			if err := testenv.CheckURLError(t, raw, u, configErr); err != nil {
				// The password parameter: as CheckURLError does for the
				// user info, run again with another password of the same
				// length, so that the parser's own words are no alarm.
				q := u.Query()
				pw := q.Get("password")
				if len(pw) < 4 || !strings.Contains(err.Error(), pw) {
					continue
				}
				other := *u
				q.Set("password", strings.Repeat("\x00", len(pw)))
				other.RawQuery = q.Encode()
				vocabulary := 0
				if again := configErr(&other); again != nil {
					vocabulary = strings.Count(again.Error(), pw)
				}
				if strings.Count(err.Error(), pw) > vocabulary {
					t.Fatalf("%q: error repeats the password parameter: %v", raw, err)
				}
			}
		}
	})
}
