package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The Go CDK (drivers/gocloud) imports OpenCensus, whose init starts a
// worker goroutine that lives as long as the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// runCmd runs the CLI in-process with stdin and returns its exit status,
// standard output and standard error.
func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsEveryCommandWithAnExample(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, errs := runCmd(t, "", args...)
		if code != 0 || errs != "" {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errs)
		}
		for _, want := range []string{"Usage:", "demo", "send", "recv", "drivers", "help", "Examples:", "portmq demo"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: help lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestCommandHelpShowsItsFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd   string
		flags []string
	}{
		{"demo", []string{"-orders", "-burst", "-rate", "-concurrency", "-fail-rate", "-poison-rate", "-dup-rate", "-seed", "-producer-url", "-subscription-url", "-dlq-url"}},
		{"send", []string{"-body", "-file", "-attr", "-key", "-dedup", "-delay", "-n"}},
		{"recv", []string{"-n", "-ack", "-timeout", "-json"}},
		{"drivers", []string{"-sub"}},
	} {
		for _, args := range [][]string{{tc.cmd, "-h"}, {"help", tc.cmd}} {
			code, out, errs := runCmd(t, "", args...)
			if code != 0 || errs != "" {
				t.Fatalf("%q: exit %d, stderr %q", args, code, errs)
			}
			if !strings.HasPrefix(out, "usage: portmq "+tc.cmd) || !strings.Contains(out, "Example:") {
				t.Errorf("%q: help lacks usage line or example:\n%s", args, out)
			}
			for _, f := range tc.flags {
				if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
					t.Errorf("%q: help lacks flag %s:\n%s", args, f, out)
				}
			}
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"help", "frobnicate"},
		{"send"},
		{"send", "mem://a", "mem://b"},
		{"send", "mem://a", "-body", "x", "-file", "y"},
		{"send", "mem://a", "-n", "0"},
		{"send", "mem://a", "-attr", "novalue"},
		{"recv", "-bogus", "mem://a/b"},
		{"recv"},
		{"demo", "-orders", "0"},
		{"demo", "extra"},
	} {
		code, out, errs := runCmd(t, "", args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if errs == "" || out != "" {
			t.Errorf("%q: want the error on stderr only, got stdout %q stderr %q", args, out, errs)
		}
	}
}

func TestBadURLsFailWithAMessage(t *testing.T) {
	for _, args := range [][]string{
		{"send", "nosuch://orders", "-body", "x"},
		{"send", "::not a url", "-body", "x"},
		{"send", "mem://orders?bogus=1", "-body", "x"},
		{"recv", "mem://orders", "-timeout", "1s"}, // no subscription path
		{"recv", "nosuch://orders/sub", "-timeout", "1s"},
		{"drivers", "nosuch://x"},
	} {
		code, _, errs := runCmd(t, "", args...)
		if code != 1 || !strings.HasPrefix(errs, "portmq "+args[0]+": ") {
			t.Errorf("%q: exit %d, stderr %q; want 1 and an error", args, code, errs)
		}
	}
	_, _, errs := runCmd(t, "", "send", "nosuch://orders", "-body", "x")
	if !strings.Contains(errs, `"nosuch"`) {
		t.Errorf("error does not name the scheme: %q", errs)
	}
}

func TestSendThenRecvRoundTripsEveryField(t *testing.T) {
	const sub = "mem://cli-roundtrip/s?max_attempts=3"
	code, _, errs := runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms") // creates the subscription
	if code != 0 {
		t.Fatalf("recv to create the subscription: exit %d, %s", code, errs)
	}
	code, out, errs := runCmd(t, "", "send", "mem://cli-roundtrip", "-body", "hello\nworld", "-attr", "type=greeting", "-attr", "lang=en", "-key", "k1", "-dedup", "d1")
	if code != 0 || errs != "" {
		t.Fatalf("send: exit %d, stderr %q", code, errs)
	}
	id := strings.TrimSpace(out)
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("send printed %q, want one ID", out)
	}
	code, out, errs = runCmd(t, "", "recv", sub, "-timeout", "5s")
	if code != 0 || errs != "" {
		t.Fatalf("recv: exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"message " + id + "  attempt 1", "key: k1", "dedup-id: d1", "attr lang: en", "attr type: greeting", "body (11 bytes):\nhello\nworld\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("recv output lacks %q:\n%s", want, out)
		}
	}
	// Acked: nothing is left.
	if code, _, errs = runCmd(t, "", "recv", sub, "-timeout", "50ms"); code != 1 || !strings.Contains(errs, "received 0 of 1") {
		t.Errorf("recv after ack: exit %d, stderr %q; want 1 and 'received 0 of 1'", code, errs)
	}
}

func TestRecvWithoutAckLeavesTheMessageForRedelivery(t *testing.T) {
	const sub = "mem://cli-noack/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	if code, _, errs := runCmd(t, "\x00\xffbinary", "send", "mem://cli-noack"); code != 0 {
		t.Fatalf("send from stdin: exit %d, %s", code, errs)
	}
	code, out, errs := runCmd(t, "", "recv", sub, "-ack=false", "-timeout", "5s", "-json")
	if code != 0 {
		t.Fatalf("recv: exit %d, %s", code, errs)
	}
	var first jsonDelivery
	if err := json.Unmarshal([]byte(out), &first); err != nil || first.BodyBase64 == nil || *first.BodyBase64 != "AP9iaW5hcnk=" {
		t.Fatalf("recv -json printed %q (%v), want the body in body_base64", out, err)
	}
	code, out, errs = runCmd(t, "", "recv", sub, "-timeout", "5s", "-json")
	if code != 0 {
		t.Fatalf("second recv: exit %d, %s", code, errs)
	}
	var again jsonDelivery
	if err := json.Unmarshal([]byte(out), &again); err != nil || again.ID != first.ID {
		t.Fatalf("second recv printed %q (%v), want message %s again", out, err, first.ID)
	}
}

func TestSendReadsTheBodyFromAFileAndSendsCopies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(path, []byte(`{"order":7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	const sub = "mem://cli-file/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	code, out, errs := runCmd(t, "", "send", "-file", path, "-n", "3", "mem://cli-file")
	if code != 0 || len(strings.Fields(out)) != 3 {
		t.Fatalf("send -n 3: exit %d, stdout %q, stderr %q; want 3 IDs", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "recv", sub, "-n", "3", "-timeout", "5s", "-json")
	if code != 0 {
		t.Fatalf("recv -n 3: exit %d, %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("recv -n 3 printed %d lines:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var d jsonDelivery
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Body == nil || *d.Body != `{"order":7}` {
			t.Errorf("line %q (%v): want body {\"order\":7}", l, err)
		}
	}
}

func TestSendMissingFileFails(t *testing.T) {
	code, _, errs := runCmd(t, "", "send", "mem://cli-nofile", "-file", filepath.Join(t.TempDir(), "absent"))
	if code != 1 || !strings.Contains(errs, "absent") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file", code, errs)
	}
}

func TestDriversListsMemWithItsCapabilities(t *testing.T) {
	code, out, errs := runCmd(t, "", "drivers")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "scheme") || !strings.Contains(lines[0], "dead-letter") {
		t.Errorf("no header: %q", lines[0])
	}
	if !strings.Contains(out, "\nmem ") || !strings.Contains(out, "native") {
		t.Errorf("mem is not listed as native:\n%s", out)
	}
	code, out, _ = runCmd(t, "", "drivers", "-sub", "mem://cli-drivers/s?emulate=all")
	if code != 0 || !strings.Contains(out, "none") {
		t.Errorf("emulate=all shows no emulated capability (exit %d):\n%s", code, out)
	}
}

func TestDemoWithSmallNumbersPrintsTheSummary(t *testing.T) {
	code, out, errs := runCmd(t, "", "demo", "-orders", "500", "-burst", "50ms", "-rate", "0", "-poison-rate", "0.01",
		"-producer-url", "mem://cli-demo",
		"-subscription-url", "mem://cli-demo/payments?max_attempts=3&dead_letter=cli-demo.dlq",
		"-dlq-url", "mem://cli-demo.dlq/dlq")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	for _, want := range []string{"summary", "messages sent", "paid", "retried", "dead-lettered", "duplicates suppressed", "max queue depth", "elapsed", "\nOK\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"demo", "-orders", "5000", "-rate", "100",
		"-producer-url", "mem://cli-demo-int",
		"-subscription-url", "mem://cli-demo-int/p?max_attempts=3&dead_letter=cli-demo-int.dlq",
		"-dlq-url", "mem://cli-demo-int.dlq/dlq"}, nil, &out, &errb)
	if code != 1 || errb.Len() == 0 {
		t.Errorf("exit %d, stderr %q; want 1 and an error", code, errb.String())
	}
}

func TestParseInterspersedAcceptsFlagsAfterArguments(t *testing.T) {
	fs := sendCmd.flagSet()
	sendCmd.flags(fs)
	pos, err := parseInterspersed(fs, []string{"-key", "a", "URL", "-n", "2", "--", "-notaflag"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 2 || pos[0] != "URL" || pos[1] != "-notaflag" {
		t.Errorf("positional = %q", pos)
	}
	if fs.Lookup("n").Value.String() != "2" || fs.Lookup("key").Value.String() != "a" {
		t.Error("flags after the URL were not parsed")
	}
}

func TestDriversReportsEachURLAndRedactsPasswords(t *testing.T) {
	code, out, errs := runCmd(t, "", "drivers", "-sub", "mem://cli-drivers-2/s", "nosuch://user:hunter2@h/x")
	if code != exitError {
		t.Fatalf("exit %d, want %d: one URL could not be opened", code, exitError)
	}
	if !strings.Contains(out, "mem://cli-drivers-2/s") || !strings.Contains(out, "native") {
		t.Errorf("the URL that opened has no row:\n%s", out)
	}
	if !strings.Contains(out, "cannot open") || !strings.Contains(errs, "nosuch") {
		t.Errorf("the URL that failed is not reported:\nstdout: %s\nstderr: %s", out, errs)
	}
	if strings.Contains(out+errs, "hunter2") {
		t.Errorf("password in output:\n%s\n%s", out, errs)
	}
}

// demo -otel stdout prints the trace of a retried and a dead-lettered
// order: sends in the order service's trace, process spans in traces of
// their own that link back, with the retry and the dead letter.
func TestDemoOtelStdoutPrintsTheTraces(t *testing.T) {
	code, out, errs := runCmd(t, "", "demo", "-orders", "200", "-burst", "20ms", "-rate", "0",
		"-producer-url", "mem://cli-otel",
		"-subscription-url", "mem://cli-otel/payments?max_attempts=3&dead_letter=cli-otel.dlq",
		"-dlq-url", "mem://cli-otel.dlq/dlq", "-otel", "stdout")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	_, traces, _ := strings.Cut(out, "Traces of two orders")
	for _, want := range []string{"order service: POST /orders (traced-retry)", "send cli-otel [producer]", "process cli-otel [consumer]",
		"portmq.outcome=retried", "portmq.outcome=acked", "portmq.outcome=dead_lettered", "nack cli-otel [client]",
		"dead_letter cli-otel [client]", `links to "send cli-otel"`} {
		if !strings.Contains(traces, want) {
			t.Errorf("the traces lack %q:\n%s", want, traces)
		}
	}
	if code, _, _ := runCmd(t, "", "demo", "-otel", "jaeger"); code != 2 {
		t.Errorf("-otel jaeger: exit %d, want 2 (usage)", code)
	}
}
