package sns

import (
	"testing"
	"time"
)

func TestMaxBodySizeIsDocumented(t *testing.T) {
	if got := Capabilities(false).MaxBodySize; got != 196551 {
		t.Errorf("MaxBodySize = %d, the package doc says 196551", got)
	}
}

// TestNackDelaysAreNativeUpToTwelveHours checks what the package doc says
// of delays: Delay is emulated by mq (SNS cannot delay), Nack delays are
// the SQS queue's ChangeMessageVisibility, up to 12 h.
func TestNackDelaysAreNativeUpToTwelveHours(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		c := Capabilities(fifo)
		if c.Delay.Has() || !c.NackDelay.Has() || c.NackDelayLimit() != 12*time.Hour {
			t.Errorf("fifo %v: Delay %v, NackDelay %v, Nack delay limit %v; want none, native, 12h", fifo, c.Delay, c.NackDelay, c.NackDelayLimit())
		}
	}
}
