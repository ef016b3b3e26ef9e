package driver

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestQuerySASL(t *testing.T) {
	mechs := []string{"plain", "scram-sha-256", "scram-sha-512"}
	read := func(t *testing.T, raw string) (mech, user, pass string, err error) {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseQuery("x", u, "sasl")
		if err != nil {
			t.Fatal(err)
		}
		return q.SASL("x", u, mechs...)
	}
	for _, c := range []struct{ raw, mech, user, pass string }{
		{"x://h/t", "", "", ""},
		{"x://alice:s3cret@h/t", "plain", "alice", "s3cret"},
		{"x://alice@h/t", "plain", "alice", ""},
		{"x://alice:s3cret@h/t?sasl=SCRAM-SHA-512", "scram-sha-512", "alice", "s3cret"},
		{"x://alice:s3cret@h/t?sasl=scram-sha-256", "scram-sha-256", "alice", "s3cret"},
	} {
		mech, user, pass, err := read(t, c.raw)
		if err != nil || mech != c.mech || user != c.user || pass != c.pass {
			t.Errorf("%s: got %q %q %q %v; want %q %q %q", c.raw, mech, user, pass, err, c.mech, c.user, c.pass)
		}
	}
	for _, c := range []struct{ raw, want string }{
		{"x://h/t?sasl=plain", "needs a user"},
		{"x://alice:s3cret@h/t?sasl=kerberos", `"sasl" must be plain, scram-sha-256 or scram-sha-512`},
	} {
		mech, _, _, err := read(t, c.raw)
		if mech != "" || err == nil || !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %q, %v; want an invalid-URL error containing %q", c.raw, mech, err, c.want)
			continue
		}
		for _, secret := range []string{"alice", "s3cret", "kerberos"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q shows %q", c.raw, err, secret)
			}
		}
	}
}
