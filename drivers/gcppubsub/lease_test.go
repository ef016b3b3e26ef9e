package gcppubsub

import (
	"testing"
	"time"
)

func TestOutstandingDropsExpiredDeliveries(t *testing.T) {
	var o outstanding
	o.init()
	now := time.Now()
	mk := func(untils ...time.Time) []delivery {
		ds := make([]delivery, len(untils))
		for i, until := range untils {
			ds[i].ackID = until.String()
			ds[i].deadline.Store(until.UnixNano())
		}
		return ds
	}
	expired := mk(now.Add(-2*time.Second), now.Add(-time.Second))
	lives := mk(now.Add(time.Hour))
	live := &lives[0]
	o.add(expired)
	o.add(lives)
	var n int
	for d := o.head.next; d != &o.head; d = d.next {
		n++
		if d != live {
			t.Errorf("expired delivery %s still listed", d.ackID)
		}
	}
	if n != 1 {
		t.Errorf("%d deliveries listed, want 1", n)
	}
	o.remove(&expired[0]) // unlinked already: a no-op
	if ids := o.drain(now.UnixNano()); len(ids) != 1 || ids[0] != live.ackID {
		t.Errorf("drain = %v", ids)
	}
	if !live.settled.Load() {
		t.Errorf("drain did not settle the live delivery")
	}
}

func TestSecondsRoundUpWithinPubSubRange(t *testing.T) {
	for d, want := range map[time.Duration]int32{
		-time.Second: 0, 0: 0, time.Nanosecond: 1, time.Second: 1, 1500 * time.Millisecond: 2,
		10 * time.Minute: 600, time.Hour: 600,
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %d, want %d", d, got, want)
		}
	}
}
