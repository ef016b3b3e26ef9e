package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// self returns a command running the test binary as portmq with args.
func self(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), "PORTMQ_CLI_AS_MAIN=1")
	return c
}

// recvAll drains sub with recv -n 0 -timeout 0 -json and returns the bodies.
func recvAll(t *testing.T, sub string) []string {
	t.Helper()
	code, out, errs := runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "0", "-json")
	if code != 0 {
		t.Fatalf("recv -n 0 -timeout 0: exit %d, %s", code, errs)
	}
	var bodies []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var d jsonDelivery
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Body == nil {
			t.Fatalf("line %q: %v", l, err)
		}
		bodies = append(bodies, *d.Body)
	}
	return bodies
}

func TestSendLinesSendsEachLineNTimes(t *testing.T) {
	const sub = "mem://cli-lines/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	code, out, errs := runCmd(t, "a\nb\n\nc", "send", "mem://cli-lines", "-lines", "-n", "2", "-json")
	if code != 0 {
		t.Fatalf("send -lines: exit %d, %s", code, errs)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var j struct{ ID string }
		if err := json.Unmarshal([]byte(l), &j); err != nil || j.ID == "" {
			t.Fatalf("send -json line %q: %v", l, err)
		}
		ids[j.ID] = true
	}
	if len(ids) != 6 {
		t.Errorf("send -lines -n 2 of 3 lines printed %d distinct IDs, want 6:\n%s", len(ids), out)
	}
	got := recvAll(t, sub)
	count := map[string]int{}
	for _, b := range got {
		count[b]++
	}
	if len(got) != 6 || count["a"] != 2 || count["b"] != 2 || count["c"] != 2 {
		t.Errorf("received bodies %q, want a, b and c twice each and no empty line", got)
	}
}

func TestSendWithoutLinesSendsAllOfStdinAsOneMessage(t *testing.T) {
	const sub = "mem://cli-whole/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	if code, _, errs := runCmd(t, "a\nb\n", "send", "mem://cli-whole"); code != 0 {
		t.Fatalf("send: exit %d, %s", code, errs)
	}
	if got := recvAll(t, sub); len(got) != 1 || got[0] != "a\nb\n" {
		t.Errorf("received %q, want one message a\\nb\\n", got)
	}
}

// -rate is a lower bound on the time taken: 10 messages at 20/s take at
// least 450ms (the first is due at once), however fast the machine.
func TestSendRateSpacesTheMessages(t *testing.T) {
	start := time.Now()
	code, out, errs := runCmd(t, "", "send", "mem://cli-rate", "-body", "x", "-n", "10", "-rate", "20")
	if code != 0 || len(strings.Fields(out)) != 10 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if d := time.Since(start); d < 450*time.Millisecond {
		t.Errorf("10 messages at -rate 20 took %v, want at least 450ms", d)
	}
}

func TestRecvTimeoutZeroTakesWhatIsReadyAndStops(t *testing.T) {
	const sub = "mem://cli-ready/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	runCmd(t, "", "send", "mem://cli-ready", "-body", "x", "-n", "3")
	if got := recvAll(t, sub); len(got) != 3 {
		t.Errorf("recv -n 0 -timeout 0 got %d messages, want the 3 ready", len(got))
	}
	code, _, errs := runCmd(t, "", "recv", sub, "-n", "1", "-timeout", "0")
	if code != 1 || !strings.Contains(errs, "received 0 of 1 messages: no more were ready") {
		t.Errorf("recv -n 1 -timeout 0 on an empty subscription: exit %d, stderr %q; want 1 saying none was ready", code, errs)
	}
}

func TestRecvHelpSaysItConsumes(t *testing.T) {
	_, out, _ := runCmd(t, "", "recv", "-h")
	if !strings.Contains(out, "ACKS IT") || !strings.Contains(out, "consumes") {
		t.Errorf("recv help does not say it consumes:\n%s", out)
	}
}

func TestTailPrintsMessagesAsTheyArriveUntilInterrupted(t *testing.T) {
	const sub = "mem://cli-tail/s"
	runCmd(t, "", "recv", sub, "-n", "0", "-timeout", "1ms")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var errb strings.Builder
		done <- run(ctx, []string{"tail", sub, "-json"}, nil, pw, &errb)
		pw.Close()
	}()
	p, err := mq.OpenProducer(ctx, "mem://cli-tail")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	lines := bufio.NewScanner(pr)
	for i, body := range []string{"one", "two", "three"} {
		if err := p.Send(ctx, &mq.Message{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("tail ended after %d messages", i)
		}
		var d jsonDelivery
		if err := json.Unmarshal(lines.Bytes(), &d); err != nil || d.Body == nil || *d.Body != body {
			t.Fatalf("tail printed %q (%v), want body %q", lines.Text(), err, body)
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if code := <-done; code != 0 {
		t.Errorf("interrupted tail returned %d, want 0 (main turns it into 130)", code)
	}
	if got := recvAll(t, sub); len(got) != 0 {
		t.Errorf("tail left %d messages: it should have acked them", len(got))
	}
}

// SIGINT ends a run with exit status 130, after the command shut down.
func TestInterruptExits130(t *testing.T) {
	c := self(t, "send", "mem://cli-sigint", "-lines")
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if _, err := io.WriteString(in, "first\n"); err != nil {
		t.Fatal(err)
	}
	// The ID on stdout shows that the command runs, its signal handler
	// installed.
	if !bufio.NewScanner(out).Scan() {
		t.Fatal("send printed no ID")
	}
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("after SIGINT: %v, want exit status 130", err)
	}
}

func TestAdminCreatesAndDeletesThroughMQAdmin(t *testing.T) {
	code, out, errs := runCmd(t, "", "admin", "create-topic", "mem://", "cli-admin")
	if code != 0 || out != "created topic cli-admin\n" {
		t.Fatalf("create-topic: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "admin", "create-subscription", "mem://", "cli-admin", "s", "-max-attempts", "2", "-dead-letter", "cli-admin.dlq", "-lease", "1s", "-json")
	if code != 0 || !strings.Contains(out, `"done":"create-subscription"`) {
		t.Fatalf("create-subscription: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// The subscription exists with those settings: a URL giving another
	// max_attempts is refused, one giving the same is accepted.
	if code, _, errs := runCmd(t, "", "recv", "mem://cli-admin/s?max_attempts=3", "-n", "0", "-timeout", "1ms"); code != 1 {
		t.Errorf("opening with other settings: exit %d, %s; want 1", code, errs)
	}
	runCmd(t, "", "send", "mem://cli-admin", "-body", "kept")
	if got := recvAll(t, "mem://cli-admin/s?max_attempts=2"); len(got) != 1 {
		t.Errorf("the created subscription received %q, want the message sent after it was created", got)
	}
	if code, out, errs := runCmd(t, "", "admin", "delete-subscription", "mem://", "cli-admin", "s"); code != 0 || out != "deleted subscription s of topic cli-admin\n" {
		t.Errorf("delete-subscription: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "admin", "delete-topic", "mem://", "cli-admin"); code != 0 {
		t.Errorf("delete-topic: exit %d, %s", code, errs)
	}
	if code, _, errs := runCmd(t, "", "admin", "create-subscription", "mem://", "cli-admin-none", "s"); code != 1 || !strings.Contains(errs, "does not exist") {
		t.Errorf("create-subscription on a missing topic: exit %d, %q; want 1 and the backend's error", code, errs)
	}
}

func TestDriversJSON(t *testing.T) {
	code, out, errs := runCmd(t, "", "drivers", "-json", "-sub", "mem://cli-drivers-json/s")
	var j jsonDriver
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j.URL != "mem://cli-drivers-json/s" || j.Features["dead-letter"] != "native" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
