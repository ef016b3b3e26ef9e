package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunSmallSpikeExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{
		"-orders", "300", "-burst", "50ms", "-rate", "0", "-poison-rate", "0.02",
		"-producer-url", "mem://op-main",
		"-subscription-url", "mem://op-main/payments?max_attempts=3&dead_letter=op-main.dlq",
		"-dlq-url", "mem://op-main.dlq/dlq",
	}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, errb.String(), out.String())
	}
	if !strings.HasSuffix(out.String(), "OK\n") {
		t.Errorf("output does not end with OK:\n%s", out.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-orders", "0"}, {"-nope"}, {"extra"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
