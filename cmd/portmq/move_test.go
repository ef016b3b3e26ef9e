package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMoveRedrivesDeadLettersKeepingTheMessage(t *testing.T) {
	const src = "mem://cli-move/s?max_attempts=1&dead_letter=cli-move.dlq"
	runCmd(t, "", "recv", src, "-n", "0", "-timeout", "1ms")
	runCmd(t, "", "recv", "mem://cli-move.dlq/dlq", "-n", "0", "-timeout", "1ms")
	// (memdriver's dead letters do not keep the DedupID: not checked here.)
	runCmd(t, "", "send", "mem://cli-move", "-body", "order 7", "-attr", "type=order", "-key", "k7", "-n", "2")
	// An unsettled delivery with max_attempts=1 dead-letters the message.
	if code, _, errs := runCmd(t, "", "recv", src, "-ack=false", "-n", "2"); code != 0 {
		t.Fatalf("recv -ack=false: exit %d, %s", code, errs)
	}
	// Redrive one with its metadata, the other without.
	runCmd(t, "", "recv", "mem://cli-move-back/s", "-n", "0", "-timeout", "1ms")
	code, out, errs := runCmd(t, "", "move", "mem://cli-move.dlq/dlq", "mem://cli-move-back", "-n", "1")
	if code != 0 || out != "moved 1 messages from mem://cli-move.dlq/dlq to mem://cli-move-back\n" {
		t.Fatalf("move -n 1: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	_, out, _ = runCmd(t, "", "recv", "mem://cli-move-back/s", "-json")
	if !strings.Contains(out, `"portmq-dead-letter-reason"`) || !strings.Contains(out, `"portmq-source":"cli-move/s"`) {
		t.Errorf("without -strip-dead-letter the metadata must be kept:\n%s", out)
	}
	code, out, errs = runCmd(t, "", "move", "mem://cli-move.dlq/dlq", "mem://cli-move-back", "-strip-dead-letter", "-idle", "200ms")
	if code != 0 || out != "moved 1 messages from mem://cli-move.dlq/dlq to mem://cli-move-back\n" {
		t.Fatalf("move: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "recv", "mem://cli-move-back/s", "-json", "-timeout", "5s")
	var d jsonDelivery
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("recv moved: exit %d, %q, %s", code, out, errs)
	}
	if *d.Body != "order 7" || d.Key != "k7" || d.Attributes["type"] != "order" || d.Attempt != 1 {
		t.Errorf("moved message lost a field: %+v", d)
	}
	for k := range d.Attributes {
		if strings.HasPrefix(k, "portmq-") {
			t.Errorf("-strip-dead-letter kept %s", k)
		}
	}
	if got := recvAll(t, "mem://cli-move.dlq/dlq"); len(got) != 0 {
		t.Errorf("the moved message is still in the source: %q", got)
	}
}

func TestMoveKeepsTheMetadataAndStopsAfterN(t *testing.T) {
	runCmd(t, "", "recv", "mem://cli-move-n/s", "-n", "0", "-timeout", "1ms")
	runCmd(t, "", "recv", "mem://cli-move-n-to/s", "-n", "0", "-timeout", "1ms")
	runCmd(t, "", "send", "mem://cli-move-n", "-body", "x", "-attr", "src=elsewhere", "-dedup", "d", "-key", "k", "-n", "5")
	code, out, errs := runCmd(t, "", "move", "mem://cli-move-n/s", "mem://cli-move-n-to", "-n", "3", "-batch", "2", "-json")
	if code != 0 || !strings.Contains(out, `"moved":3`) {
		t.Fatalf("move -n 3: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := recvAll(t, "mem://cli-move-n/s"); len(got) != 2 {
		t.Errorf("%d left at the source, want 2", len(got))
	}
	_, out, _ = runCmd(t, "", "recv", "mem://cli-move-n-to/s", "-n", "3", "-json")
	if strings.Count(out, `"src":"elsewhere"`) != 3 || strings.Count(out, `"dedup_id":"d"`) != 3 || strings.Count(out, `"key":"k"`) != 3 {
		t.Errorf("the moved messages lost attributes, dedup ID or key:\n%s", out)
	}
}

func TestMoveAcrossBackends(t *testing.T) {
	u := rabbitmq(t)
	to := u + "?topic=cli-move-x"
	from := u + "?topic=cli-move-x&subscription=cli-move-x-q"
	runCmd(t, "", "recv", from, "-n", "0", "-timeout", "0") // declares and drains the queue
	runCmd(t, "", "recv", "mem://cli-move-x/s", "-n", "0", "-timeout", "1ms")
	runCmd(t, "1\n2\n3\n", "send", "mem://cli-move-x", "-lines", "-key", "k", "-attr", "a=b")
	code, out, errs := runCmd(t, "", "move", "mem://cli-move-x/s", to, "-idle", "200ms")
	if code != 0 || !strings.HasPrefix(out, "moved 3 messages") || strings.Contains(out, "guest:guest") {
		t.Fatalf("move mem → RabbitMQ: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "recv", from, "-n", "3", "-json")
	if code != 0 || strings.Count(out, `"key":"k"`) != 3 || strings.Count(out, `"a":"b"`) != 3 {
		t.Errorf("recv from RabbitMQ: exit %d, %s\n%s", code, errs, out)
	}
}
