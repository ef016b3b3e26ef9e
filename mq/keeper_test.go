package mq

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// scriptSub is a driver.Subscription whose ReceiveBatch hands out what the
// test queued (blocking until ctx ends when nothing is queued) and which
// reports Nack and Extend calls on channels.
type scriptSub struct {
	fakeCommon
	caps  driver.Capabilities
	lease time.Duration

	mu    sync.Mutex
	queue []driver.Message
	more  chan struct{}

	nacks   chan call
	extends chan call
}

type call struct {
	seqs []uint64
	d    time.Duration
}

func newScriptSub(caps driver.Capabilities, lease time.Duration) *scriptSub {
	return &scriptSub{caps: caps, lease: lease, more: make(chan struct{}, 1), nacks: make(chan call, 16), extends: make(chan call, 16)}
}

func (f *scriptSub) push(ms ...driver.Message) {
	f.mu.Lock()
	f.queue = append(f.queue, ms...)
	f.mu.Unlock()
	select {
	case f.more <- struct{}{}:
	default:
	}
}

func (f *scriptSub) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	for {
		f.mu.Lock()
		n := copy(dst, f.queue)
		f.queue = f.queue[n:]
		f.mu.Unlock()
		if n > 0 {
			dl := time.Now().Add(f.lease)
			for i := range dst[:n] {
				dst[i].Deadline = dl
			}
			return n, nil
		}
		select {
		case <-f.more:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func seqsOf(ids []driver.AckID) []uint64 {
	var out []uint64
	for _, id := range ids {
		out = append(out, id.Seq)
	}
	return out
}

func (f *scriptSub) Ack(context.Context, []driver.AckID) error { return nil }
func (f *scriptSub) Nack(_ context.Context, ids []driver.AckID, d time.Duration) error {
	f.nacks <- call{seqsOf(ids), d}
	return nil
}
func (f *scriptSub) Extend(_ context.Context, ids []driver.AckID, d time.Duration) error {
	f.extends <- call{seqsOf(ids), d}
	return nil
}
func (f *scriptSub) Info() driver.SubscriptionInfo {
	return driver.SubscriptionInfo{Name: "script", Lease: f.lease}
}
func (f *scriptSub) Capabilities() driver.Capabilities { return f.caps }

func msgs(seqs ...uint64) []driver.Message {
	var out []driver.Message
	for _, s := range seqs {
		out = append(out, driver.Message{ID: "m", AckID: driver.AckID{Seq: s}, Attempt: 1})
	}
	return out
}

func await(t *testing.T, ch chan call, what string) call {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s call", what)
		return call{}
	}
}

func shutdown(t *testing.T, s *Subscription) {
	t.Helper()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestKeeperExtendsLeasesOfBufferedMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 300 * time.Millisecond
		f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native}, lease)
		s, err := NewSubscription(f)
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		f.push(msgs(1, 2, 3, 4, 5)...)
		d, err := s.Receive(context.Background())
		if err != nil || d.ackID.Seq != 1 {
			t.Fatalf("Receive: %v, %v", d, err)
		}
		first := d.Deadline()
		// The other four wait in the buffer; before their lease ends the
		// keeper extends them in one call.
		c := await(t, f.extends, "Extend")
		if len(c.seqs) != 4 || c.seqs[0] != 2 || c.d != lease {
			t.Fatalf("Extend(%v, %v), want the 4 buffered messages for %v", c.seqs, c.d, lease)
		}
		d2, err := s.Receive(context.Background())
		if err != nil || d2.ackID.Seq != 2 {
			t.Fatalf("Receive: %v, %v", d2, err)
		}
		if !d2.Deadline().After(first) {
			t.Fatalf("buffered delivery's deadline %v not moved past %v", d2.Deadline(), first)
		}
		if d2.Attempt != 1 {
			t.Fatalf("Attempt %d, want 1: the lease must not have run out", d2.Attempt)
		}
	})
}

func TestKeeperHandsBackABufferNobodyReceivesFrom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 200 * time.Millisecond
		f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native}, lease)
		s, err := NewSubscription(f)
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		f.push(msgs(1, 2, 3)...)
		if _, err := s.Receive(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Visits every half lease extend; after two leases without a Receive
		// the buffer goes back.
		for range idleVisits - 1 {
			await(t, f.extends, "Extend")
		}
		c := await(t, f.nacks, "Nack")
		if len(c.seqs) != 2 || c.seqs[0] != 2 || c.seqs[1] != 3 || c.d != 0 {
			t.Fatalf("Nack(%v, %v), want [2 3] with delay 0", c.seqs, c.d)
		}
	})
}

func TestNackDelayBeyondMaxDelayButWithinMaxNackDelayIsNative(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native,
			MaxDelay: 15 * time.Minute, MaxNackDelay: 12 * time.Hour}, time.Minute)
		s, err := NewSubscription(f)
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		f.push(msgs(1, 2)...)
		d1, err := s.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := d1.Nack(time.Hour); err != nil {
			t.Fatal(err)
		}
		if c := await(t, f.nacks, "Nack"); c.d != time.Hour {
			t.Fatalf("driver Nack delay %v, want 1h natively", c.d)
		}
		d2, err := s.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := d2.Nack(13 * time.Hour); err != nil {
			t.Fatal(err)
		}
		// Beyond MaxNackDelay mq holds it, extending its lease, instead.
		if c := await(t, f.extends, "Extend"); len(c.seqs) != 1 || c.seqs[0] != 2 {
			t.Fatalf("Extend(%v), want the held delivery 2", c.seqs)
		}
		select {
		case c := <-f.nacks:
			t.Fatalf("driver Nack(%v, %v) for a delay beyond MaxNackDelay", c.seqs, c.d)
		default:
		}
	})
}

func TestHeldDeliveryWakesAReceiveBlockedInADriverWithBoundedDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native,
			MaxDelay: 15 * time.Minute}, time.Minute)
		s, err := NewSubscription(f)
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		due := time.Now().Add(100 * time.Millisecond)
		m := msgs(1)
		m[0].Attributes = map[string]string{driver.AttrNotBefore: due.UTC().Format(time.RFC3339Nano)}
		f.push(m...)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The message is held until due while this Receive waits in the
		// driver's ReceiveBatch, which only returns on ctx: the emulator must
		// wake it.
		d, err := s.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive: %v (a held delivery did not wake a Receive blocked in the driver)", err)
		}
		if time.Now().Before(due) {
			t.Fatalf("delivered before its due time")
		}
		if _, ok := d.Attributes[driver.AttrNotBefore]; ok {
			t.Fatalf("internal attribute leaked: %v", d.Attributes)
		}
	})
}

// TestBufferedBatchWakesReceiversWaitingInTheDriver: one fetch brings back
// a batch while other Receive calls wait in the driver; they must take from
// the buffer instead of waiting for new messages.
func TestBufferedBatchWakesReceiversWaitingInTheDriver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native}, time.Minute)
		s, err := NewSubscription(f)
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		const n = 4
		got := make(chan uint64, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for range n {
			go func() {
				d, err := s.Receive(ctx)
				if err != nil {
					got <- 0
					return
				}
				got <- d.ackID.Seq
			}()
		}
		// Wait until all four are in the driver.
		synctest.Wait()
		s.mu.Lock()
		k := s.fetching
		s.mu.Unlock()
		if k != n {
			t.Fatalf("%d receivers in the driver, want %d", k, n)
		}
		f.push(msgs(1, 2, 3, 4)...) // one of them gets all four
		seen := map[uint64]bool{}
		for range n {
			select {
			case seq := <-got:
				if seq == 0 || seen[seq] {
					t.Fatalf("a receiver got %d (0: an error)", seq)
				}
				seen[seq] = true
			case <-time.After(5 * time.Second):
				t.Fatalf("receivers still wait in the driver while the batch sits in the buffer (got %v)", seen)
			}
		}
	})
}

// TestEmulatedLeasesSurviveSettlingMostDeliveries tracks many emulated
// leases, settles most of them (so the hand-out queue compacts) and extends
// one: exactly the unsettled ones expire, the extended one later.
func TestEmulatedLeasesSurviveSettlingMostDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = 300 * time.Millisecond
		f := newScriptSub(driver.Capabilities{NackDelay: driver.Native, Delay: driver.Native}, lease)
		s, err := NewSubscription(f, WithPrefetch(1000))
		if err != nil {
			t.Fatal(err)
		}
		defer shutdown(t, s)
		const n = 700
		var seqs []uint64
		for i := range n {
			seqs = append(seqs, uint64(i+1))
		}
		f.push(msgs(seqs...)...)
		var ds []*Delivery
		for range n {
			d, err := s.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		want := map[uint64]bool{}
		for i, d := range ds {
			switch {
			case i%7 == 3:
				want[d.ackID.Seq] = true // left to expire
			case i == 11:
				if err := d.Extend(3 * lease); err != nil {
					t.Fatal(err)
				}
			default:
				if err := d.Ack(); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := map[uint64]bool{}
		for len(got) < len(want) {
			c := await(t, f.nacks, "Nack of expired leases")
			for _, seq := range c.seqs {
				if !want[seq] || got[seq] {
					t.Fatalf("lease of %d ended: it was settled, extended or ended twice", seq)
				}
				got[seq] = true
			}
		}
		if c := await(t, f.nacks, "Nack of the extended lease"); len(c.seqs) != 1 || c.seqs[0] != ds[11].ackID.Seq {
			t.Fatalf("Nack(%v), want the extended delivery %d alone", c.seqs, ds[11].ackID.Seq)
		}
		if err := ds[11].Ack(); !errors.Is(err, ErrLeaseExpired) {
			t.Fatalf("Ack after the extended lease ended: %v, want ErrLeaseExpired", err)
		}
	})
}
