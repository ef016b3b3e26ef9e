package testenv

import (
	"context"
	"errors"
	"testing"
	"time"
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
