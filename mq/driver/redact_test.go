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

func TestBatchResultShapes(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	for _, c := range []struct {
		name string
		errs []error
		want func(error) bool
	}{
		{"nil", nil, func(err error) bool { return err == nil }},
		{"all ok", []error{nil, nil}, func(err error) bool { return err == nil }},
		{"one item", []error{a}, func(err error) bool { return err == a }},
		{"same for all", []error{a, a, a}, func(err error) bool { return err == a }},
		{"some", []error{nil, a}, func(err error) bool {
			be, ok := err.(*BatchError)
			return ok && be.Errs[0] == nil && be.Errs[1] == a
		}},
		{"different", []error{a, b}, func(err error) bool { _, ok := err.(*BatchError); return ok }},
	} {
		if got := BatchResult(c.errs); !c.want(got) {
			t.Errorf("%s: BatchResult = %v", c.name, got)
		}
	}
	var errs []error
	errs = SetItemError(errs, 3, 1, nil)
	if errs != nil {
		t.Error("SetItemError made errs for a nil error")
	}
	errs = SetItemError(errs, 3, 2, b)
	if len(errs) != 3 || errs[2] != b || errs[0] != nil {
		t.Errorf("SetItemError = %v", errs)
	}
	got := SubBatchResult(4, []int{1, 3}, &BatchError{Errs: []error{nil, a}})
	if be, ok := got.(*BatchError); !ok || be.Errs[3] != a || be.Errs[1] != nil || be.Errs[0] != nil {
		t.Errorf("SubBatchResult = %v", got)
	}
	if SubBatchResult(4, []int{1, 3}, nil) != nil {
		t.Error("SubBatchResult of nil is not nil")
	}
}
