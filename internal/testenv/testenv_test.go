package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestExclusiveWaitsForSharedHoldersAndHonoursContext(t *testing.T) {
	name := "testenv-selftest-" + t.Name()
	shared, err := LockBroker(name, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LockBroker(name, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := other.ExclusiveContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ExclusiveContext while another holds it shared: %v, want DeadlineExceeded", err)
	}
	if err := shared.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := other.ExclusiveContext(context.Background()); err != nil {
		t.Fatalf("ExclusiveContext once the other let go: %v", err)
	}
	if err := other.Shared(); err != nil {
		t.Fatal(err)
	}
	if err := other.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestUnavailableSkipsWithoutRequireServers(t *testing.T) {
	t.Setenv(RequireServersEnv, "")
	ok := t.Run("inner", func(t *testing.T) {
		Unavailable(t, "the test server", errors.New("refused"), "start it with: x")
		t.Error("not reached")
	})
	if !ok {
		t.Fatal("Unavailable failed the test without " + RequireServersEnv)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

// TestCheckURLErrorTellsLeaksFromVocabulary: a parser that repeats the
// password fails the check; one whose own words hold it ("tter" in
// "dead_letter") does not.
func TestCheckURLErrorTellsLeaksFromVocabulary(t *testing.T) {
	u, err := url.Parse("x://user:tter@host?bogus=1")
	if err != nil {
		t.Fatal(err)
	}
	invalid := func(msg string) error { return fmt.Errorf("%w: %s", driver.ErrInvalidURL, msg) }
	for _, c := range []struct {
		name  string
		parse func(*url.URL) error
		leak  bool
	}{
		{"vocabulary", func(*url.URL) error { return invalid("unknown parameter (allowed: dead_letter)") }, false},
		{"echo", func(u *url.URL) error { return invalid("bad URL " + u.String()) }, true},
		{"echo and vocabulary", func(u *url.URL) error { p, _ := u.User.Password(); return invalid("dead_letter " + p) }, true},
		{"not ErrInvalidURL", func(*url.URL) error { return errors.New("plain") }, true},
	} {
		r := &fatalRecorder{TB: t}
		CheckURLError(r, u.String(), u, c.parse)
		if got := r.fatal != ""; got != c.leak {
			t.Errorf("%s: failed %v (%q), want %v", c.name, got, r.fatal, c.leak)
		}
	}
}
