package main

import (
	"encoding/json"
	"testing"
)

// recv -ack=false is no peek: the backend counts the unsettled delivery
// as an attempt (a message with max_attempts=N comes nearer its dead
// letter each time), on mem and on RabbitMQ's quorum queues alike. This
// is why the CLI offers no peek command (see README, "Peeking").
func TestRecvWithoutAckCountsAnAttempt(t *testing.T) {
	check := func(t *testing.T, topicURL, subURL string) {
		runCmd(t, "", "recv", subURL, "-n", "0", "-timeout", "0")
		if code, _, errs := runCmd(t, "", "send", topicURL, "-body", "x"); code != 0 {
			t.Fatalf("send: %s", errs)
		}
		for want := 1; want <= 2; want++ {
			args := []string{"recv", subURL, "-json"}
			if want == 1 {
				args = append(args, "-ack=false")
			}
			code, out, errs := runCmd(t, "", args...)
			var d jsonDelivery
			if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
				t.Fatalf("recv: exit %d, %q, %s", code, out, errs)
			}
			if d.Attempt != want {
				t.Errorf("delivery %d has attempt %d: the handed-back delivery was not counted", want, d.Attempt)
			}
		}
	}
	t.Run("mem", func(t *testing.T) { check(t, "mem://cli-peek", "mem://cli-peek/s") })
	t.Run("rabbitmq", func(t *testing.T) {
		u := rabbitmq(t)
		check(t, u+"?topic=cli-peek", u+"?topic=cli-peek&subscription=cli-peek-q")
	})
}
