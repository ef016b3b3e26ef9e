package driver

import (
	"errors"
	"math"
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

func TestRangeGettersNameTheParameterAndTheRangeNotTheValue(t *testing.T) {
	const secret = "s3cret"
	q := Query{"n": "7", "d": "1500ms", "e": "share", "zero": "0", "bad": secret, "big": "70000", "neg": "-1s"}
	if n, err := q.IntIn("x", "n", 1, 10); n != 7 || err != nil {
		t.Errorf("IntIn(n) = %v, %v", n, err)
	}
	if d, err := q.DurationIn("x", "d", time.Second, 2*time.Second); d != 1500*time.Millisecond || err != nil {
		t.Errorf("DurationIn(d) = %v, %v", d, err)
	}
	if v, err := q.OneOf("x", "e", "group", "share"); v != "share" || err != nil {
		t.Errorf("OneOf(e) = %q, %v", v, err)
	}
	if n, err := q.IntIn("x", "absent", 1, 10); n != 0 || err != nil || q.Has("absent") || !q.Has("n") {
		t.Errorf("absent IntIn = %v, %v (Has %v)", n, err, q.Has("absent"))
	}
	if v, err := q.OneOf("x", "absent", "a"); v != "" || err != nil {
		t.Errorf("absent OneOf = %q, %v", v, err)
	}
	for _, c := range []struct {
		name string
		get  func() error
		want string
	}{
		{"int above the range", func() error { _, err := q.IntIn("x", "big", 1, 65535); return err }, `parameter "big" must be an integer from 1 to 65535`},
		{"int below the range", func() error { _, err := q.IntIn("x", "zero", 1, 65535); return err }, "from 1 to 65535"},
		{"not an int", func() error { _, err := q.IntIn("x", "bad", 0, 5); return err }, `parameter "bad" must be an integer from 0 to 5`},
		{"int without a top", func() error { _, err := q.IntIn("x", "zero", 1, math.MaxInt); return err }, "a positive integer"},
		{"int of at least", func() error { _, err := q.IntIn("x", "zero", 3, math.MaxInt); return err }, "an integer of at least 3"},
		{"Int", func() error { _, err := q.Int("x", "bad"); return err }, "a non-negative integer"},
		{"duration above the range", func() error { _, err := q.DurationIn("x", "d", 0, time.Second); return err }, `parameter "d" must be a duration from 0s to 1s`},
		{"not a duration", func() error { _, err := q.DurationIn("x", "bad", 0, time.Second); return err }, "from 0s to 1s"},
		{"positive duration", func() error { _, err := q.DurationIn("x", "zero", 1, math.MaxInt64); return err }, "a positive duration"},
		{"duration of at least", func() error { _, err := q.DurationIn("x", "zero", time.Millisecond, math.MaxInt64); return err }, "a duration of at least 1ms"},
		{"Duration", func() error { _, err := q.Duration("x", "neg"); return err }, "a non-negative duration"},
		{"one of", func() error { _, err := q.OneOf("x", "bad", "none", "gzip", "lz4"); return err }, `parameter "bad" must be none, gzip or lz4`},
		{"Bool", func() error { _, err := q.Bool("x", "bad"); return err }, "a boolean"},
	} {
		err := c.get()
		switch {
		case !errors.Is(err, ErrInvalidURL) || !strings.HasPrefix(err.Error(), "x: "):
			t.Errorf("%s: %v, want an ErrInvalidURL starting with x:", c.name, err)
		case !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %q, want it to say %q", c.name, err, c.want)
		case strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "70000") || strings.Contains(err.Error(), "1500ms"):
			t.Errorf("%s: %q repeats the value", c.name, err)
		}
	}
}
