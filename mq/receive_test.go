package mq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

type nativeMsg struct{ n int }

// nativeAs is a Native that chooses what a target gets (driver.NativeAs).
type nativeAs struct{ n int }

func (a nativeAs) NativeAs(i any) bool {
	if p, ok := i.(*int); ok {
		*p = a.n
		return true
	}
	return false
}

// Delivery.As hands out driver.Message.Native by type, or asks it when it
// implements driver.NativeAs, in batches as in single receives.
func TestDeliveryAsNativeAndNativeAs(t *testing.T) {
	f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native}, time.Minute)
	s, err := NewSubscription(f)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, s)
	ms := msgs(1, 2, 3)
	ms[0].Native = &nativeMsg{n: 1}
	ms[1].Native = nativeAs{n: 2}
	f.push(ms...)
	ds, err := s.ReceiveBatch(context.Background(), 3)
	if err != nil || len(ds) != 3 {
		t.Fatalf("ReceiveBatch: %d, %v", len(ds), err)
	}
	var nm *nativeMsg
	if !ds[0].As(&nm) || nm == nil || nm.n != 1 {
		t.Errorf("As(**nativeMsg) on Native: %v", nm)
	}
	var anything any
	if !ds[0].As(&anything) || anything.(*nativeMsg) != nm {
		t.Errorf("As(*any) on Native: %v", anything)
	}
	var wrong *int
	if ds[0].As(&wrong) || ds[0].As(nil) || ds[0].As(nm) || ds[0].As((**nativeMsg)(nil)) {
		t.Error("As accepted a target that cannot hold the native message")
	}
	var n int
	if !ds[1].As(&n) || n != 2 || ds[1].As(&nm) {
		t.Errorf("As through NativeAs: %d", n)
	}
	if ds[2].As(&nm) || ds[2].As(&anything) {
		t.Error("As succeeded on a message without a native form")
	}
	for _, d := range ds {
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if !ds[0].As(&nm) || nm.n != 1 {
		t.Error("As after Ack lost the native message")
	}
}

// ReceiveBatch turns buffered messages into deliveries a chunk at a time:
// every message comes out once, in order, with its own lease kept by mq,
// whether its chunk shares one allocation (small bodies) or not.
func TestReceiveBatchChunksKeepEveryMessage(t *testing.T) {
	const lease = time.Minute
	f := newScriptSub(driver.Capabilities{Lease: driver.None, NackDelay: driver.Native, Delay: driver.Native}, lease)
	s, err := NewSubscription(f, WithPrefetch(200))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, s)
	var ms []driver.Message
	for i := range 150 {
		m := driver.Message{ID: fmt.Sprint(i), AckID: driver.AckID{Seq: uint64(i)}, Attempt: 1, Body: []byte{byte(i)}}
		if i >= 64 && i < 96 {
			m.Body = make([]byte, 4<<10) // a chunk too big to share an allocation
			m.Body[0] = byte(i)
		}
		ms = append(ms, m)
	}
	f.push(ms...)
	before := time.Now()
	var got []*Delivery
	for len(got) < len(ms) {
		ds, err := s.ReceiveBatch(context.Background(), 70)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ds...)
	}
	seen := map[*Delivery]bool{}
	for i, d := range got {
		if d.ID != fmt.Sprint(i) || d.Body[0] != byte(i) || seen[d] {
			t.Fatalf("delivery %d is %q (body %d), repeated %v", i, d.ID, d.Body[0], seen[d])
		}
		seen[d] = true
		if dl := d.Deadline(); dl.Before(before.Add(lease)) || dl.After(time.Now().Add(lease)) {
			t.Errorf("delivery %d: lease ends %v, want about a minute from now", i, dl)
		}
	}
	for _, d := range got {
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	s.emu.mu.Lock()
	live := len(s.emu.fifo) - s.emu.fifoHead - s.emu.fifoDead
	s.emu.mu.Unlock()
	if live != 0 {
		t.Errorf("%d leases still kept after every delivery was acked", live)
	}
}
