package driver

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	parse := func(raw string, allowed ...string) (Query, error) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return ParseQuery("x", u, allowed...)
	}
	q, err := parse("x://h?a=1s&b=7&c=true", "c", "b", "a")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := q.Duration("x", "a"); d != time.Second || err != nil {
		t.Errorf("Duration = %v, %v", d, err)
	}
	if n, err := q.Int("x", "b"); n != 7 || err != nil {
		t.Errorf("Int = %v, %v", n, err)
	}
	if b, err := q.Bool("x", "c"); !b || err != nil {
		t.Errorf("Bool = %v, %v", b, err)
	}
	if d, err := q.Duration("x", "absent"); d != 0 || err != nil {
		t.Errorf("absent Duration = %v, %v", d, err)
	}
	for _, c := range []struct {
		raw, want string
		allowed   []string
	}{
		{"x://h?zz=secret", `unknown parameter "zz" (allowed: a, b)`, []string{"b", "a"}},
		{"x://h?zz=1", `unknown parameter "zz" (allowed: none)`, nil},
		{"x://h?a=1&a=2", `"a" given more than once`, []string{"a"}},
		{"x://h?a=%zz", "malformed query", []string{"a"}},
	} {
		_, err := parse(c.raw, c.allowed...)
		if !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x: ") {
			t.Errorf("%s: %v, want an ErrInvalidURL saying %s", c.raw, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error repeats a value: %v", c.raw, err)
		}
	}
	bad := Query{"a": "-1s", "b": "x", "c": "maybe"}
	if _, err := bad.Duration("x", "a"); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("negative duration: %v", err)
	}
	if _, err := bad.Int("x", "b"); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("bad int: %v", err)
	}
	if _, err := bad.Bool("x", "c"); !errors.Is(err, ErrInvalidURL) {
		t.Errorf("bad bool: %v", err)
	}
}
