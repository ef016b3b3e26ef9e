package driver

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
)

func TestRedactedHidesTheSecretInEveryForm(t *testing.T) {
	const pw = "p@ss w/rd?&="
	u := url.URL{Scheme: "amqp", User: url.UserPassword("u", pw), Host: "h"}
	native := fmt.Errorf("dial %s, %s, query pw=%s, path /%s failed: %w", u.String(), pw, url.QueryEscape(pw), url.PathEscape(pw), io.EOF)
	err := Redacted(native, pw)
	s := err.Error()
	for _, form := range []string{pw, escapeUserinfo(pw), url.QueryEscape(pw), url.PathEscape(pw), url.UserPassword("u", pw).String()} {
		if strings.Contains(s, form) {
			t.Errorf("%q keeps %q", s, form)
		}
	}
	if !strings.Contains(s, "xxxxx") || !strings.Contains(s, "failed") {
		t.Errorf("redacted text %q", s)
	}
	if !errors.Is(err, io.EOF) {
		t.Error("Redacted's error does not unwrap to the native one")
	}
	if escapeUserinfo(pw) != "p%40ss%20w%2Frd%3F%26%3D" {
		t.Errorf("escapeUserinfo = %q", escapeUserinfo(pw))
	}
	if Redacted(err, pw) != err {
		t.Error("redacting twice wraps twice")
	}
}

func TestRedactedLeavesOtherErrorsAlone(t *testing.T) {
	plain := errors.New("connection refused")
	for _, c := range []struct {
		err    error
		secret string
	}{{nil, "pw"}, {plain, ""}, {plain, "hunter2"}} {
		if got := Redacted(c.err, c.secret); got != c.err {
			t.Errorf("Redacted(%v, %q) = %v, want it unchanged", c.err, c.secret, got)
		}
	}
}
