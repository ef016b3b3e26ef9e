package conformance

import (
	"strings"
	"time"

	"github.com/portmq/portmq/mq"
)

// Rule 10: delayed delivery.

func testDelay(t tb, s *suite) {
	e := setup(t, s, Spec{})
	p, sub := e.producer(), e.sub(0)
	delay := 2 * e.tm.lease
	earliest := delay - e.gran(sub)
	start := time.Now()
	late := e.send(p, &mq.Message{Body: []byte("later"), Delay: delay, Attributes: map[string]string{"kind": "delayed"}})
	now := e.sendBody(p, "now")
	var d *mq.Delivery
	for d == nil {
		got := e.recv(sub, e.tm.patience, "the undelayed message sent after the delayed one")
		switch got.ID {
		case now.ID:
			e.ack(got)
			if time.Since(start) >= earliest {
				t.Logf("undelayed message arrived only after %v", time.Since(start))
			}
			if early := e.expectNone(sub, earliest-time.Since(start), "a message sent with Delay "+delay.String()+" must not be delivered before it"); len(early) > 0 {
				d = early[0]
			} else {
				d = e.recv(sub, e.tm.patience+delay, "the delayed message")
			}
		case late.ID:
			t.Errorf("delayed message delivered %v after Send, before the undelayed one sent after it", time.Since(start).Round(time.Millisecond))
			e.ack(got)
			return
		default:
			t.Fatalf("received %s, which was not sent", describe(got))
		}
	}
	after := time.Since(start)
	if d.ID != late.ID {
		t.Fatalf("received %s, want the delayed message %s", describe(d), late.ID)
	}
	if after < earliest {
		t.Errorf("message sent with Delay %v was delivered after %v", delay, after.Round(time.Millisecond))
	}
	if d.Delay != 0 {
		t.Errorf("delivery has Delay %v, want 0", d.Delay)
	}
	for k, v := range d.Attributes {
		if strings.HasPrefix(k, "portmq-") {
			t.Errorf("delayed message arrived with internal attribute %s=%q", k, v)
		}
	}
	if d.Attributes["kind"] != "delayed" || len(d.Attributes) != 1 {
		t.Errorf("delayed message arrived with attributes %v, sent map[kind:delayed]", d.Attributes)
	}
	e.ack(d)
}
