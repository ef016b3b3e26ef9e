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

// ackRecorder is a minimal driver.Subscription that records Ack batches;
// Ack blocks until released so the test controls batching.
type ackRecorder struct {
	fakeCommon
	mu      sync.Mutex
	batches [][]uint64
	gate    chan struct{}
	entered chan struct{}
	failSeq uint64
}

func (r *ackRecorder) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}
func (r *ackRecorder) Ack(_ context.Context, ids []driver.AckID) error {
	r.entered <- struct{}{}
	<-r.gate
	r.mu.Lock()
	var seqs []uint64
	errs := make([]error, len(ids))
	failed := false
	for i, id := range ids {
		seqs = append(seqs, id.Seq)
		if id.Seq == r.failSeq {
			errs[i], failed = driver.ErrLeaseExpired(), true
		}
	}
	r.batches = append(r.batches, seqs)
	r.mu.Unlock()
	if failed {
		return &driver.BatchError{Errs: errs}
	}
	return nil
}
func (r *ackRecorder) Nack(context.Context, []driver.AckID, time.Duration) error   { return nil }
func (r *ackRecorder) Extend(context.Context, []driver.AckID, time.Duration) error { return nil }
func (r *ackRecorder) Info() driver.SubscriptionInfo                               { return driver.SubscriptionInfo{Name: "rec"} }
func (r *ackRecorder) Capabilities() driver.Capabilities {
	return driver.Capabilities{Lease: driver.Native, Delay: driver.Native}
}

func TestAcksArrivingDuringAFlushShareTheNextDriverCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &ackRecorder{gate: make(chan struct{}), entered: make(chan struct{}, 10), failSeq: 3}
		s, err := NewSubscription(rec)
		if err != nil {
			t.Fatal(err)
		}
		mk := func(seq uint64) *Delivery { return &Delivery{sub: s, ackID: driver.AckID{Seq: seq}} }
		results := make([]error, 5)
		var wg sync.WaitGroup
		wg.Go(func() { results[0] = mk(0).Ack() })
		<-rec.entered // the first ack is in the driver: the rest must queue
		for i := 1; i < 5; i++ {
			wg.Go(func() { results[i] = mk(uint64(i)).Ack() })
		}
		// Wait until the four are queued behind the flush.
		synctest.Wait()
		s.acker.mu.Lock()
		n := len(s.acker.pending)
		s.acker.mu.Unlock()
		if n != 4 {
			t.Fatalf("%d acks queued behind the flush, want 4", n)
		}
		close(rec.gate)
		wg.Wait()
		if len(rec.batches) != 2 || len(rec.batches[0]) != 1 || len(rec.batches[1]) != 4 {
			t.Fatalf("driver batches = %v, want [[0] [four ids]]", rec.batches)
		}
		for i, err := range results {
			if want := i == 3; (err != nil) != want {
				t.Errorf("ack %d: err = %v, want error: %v", i, err, want)
			}
		}
		if !errors.Is(results[3], ErrLeaseExpired) {
			t.Errorf("ack 3: %v, want ErrLeaseExpired", results[3])
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAckBatchSettlesManyInOneDriverCall(t *testing.T) {
	rec := &ackRecorder{gate: make(chan struct{}), entered: make(chan struct{}, 10), failSeq: 2}
	close(rec.gate)
	s, err := NewSubscription(rec)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewSubscription(&ackRecorder{gate: rec.gate, entered: make(chan struct{}, 10)})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(s *Subscription, seq uint64) *Delivery { return &Delivery{sub: s, ackID: driver.AckID{Seq: seq}} }
	settled := mk(s, 9)
	if err := settled.Ack(); err != nil {
		t.Fatal(err)
	}
	rec.batches = nil
	ds := []*Delivery{mk(s, 1), mk(s, 2), settled, mk(other, 4), nil, mk(s, 5)}
	err = s.AckBatch(ds)
	var be *BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(ds) {
		t.Fatalf("AckBatch: %v, want a *BatchError with %d entries", err, len(ds))
	}
	if len(rec.batches) != 1 || len(rec.batches[0]) != 3 {
		t.Fatalf("driver batches %v, want one call with the 3 acceptable deliveries", rec.batches)
	}
	checks := []struct {
		want error
		code ErrorCode
	}{{nil, OK}, {ErrLeaseExpired, FailedPrecondition}, {ErrSettled, FailedPrecondition}, {nil, InvalidArgument}, {nil, InvalidArgument}, {nil, OK}}
	for i, c := range checks {
		got := be.Errs[i]
		if Code(got) != c.code || (c.want != nil && !errors.Is(got, c.want)) {
			t.Errorf("item %d: %v (code %v), want code %v matching %v", i, got, Code(got), c.code, c.want)
		}
	}
	if err := ds[0].Ack(); !errors.Is(err, ErrSettled) {
		t.Errorf("Ack after AckBatch: %v, want ErrSettled", err)
	}
	if err := s.AckBatch(nil); err != nil {
		t.Errorf("AckBatch(nil) = %v", err)
	}
	for _, sub := range []*Subscription{s, other} {
		if err := sub.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AckBatch([]*Delivery{mk(s, 7)}); !errors.Is(err, ErrClosed) {
		t.Errorf("AckBatch after Shutdown: %v, want ErrClosed", err)
	}
}

// TestAckReturnsAfterItsOwnBatch checks the hand-over: the caller that
// flushed its batch returns at once; a caller whose acks queued meanwhile
// sends the next batch.
func TestAckReturnsAfterItsOwnBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &ackRecorder{gate: make(chan struct{}), entered: make(chan struct{}, 10), failSeq: 99}
		s, err := NewSubscription(rec)
		if err != nil {
			t.Fatal(err)
		}
		mk := func(seq uint64) *Delivery { return &Delivery{sub: s, ackID: driver.AckID{Seq: seq}} }
		first := make(chan error, 1)
		go func() { first <- mk(0).Ack() }()
		<-rec.entered
		var wg sync.WaitGroup
		for i := 1; i <= 2; i++ {
			wg.Go(func() { _ = mk(uint64(i)).Ack() })
		}
		synctest.Wait()
		s.acker.mu.Lock()
		n := s.acker.waiting
		s.acker.mu.Unlock()
		if n != 2 {
			t.Fatalf("%d acks waiting, want 2", n)
		}
		rec.gate <- struct{}{} // the first batch completes
		select {
		case err := <-first:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the first Ack waits for a batch of other callers")
		}
		<-rec.entered          // a waiting caller took over
		rec.gate <- struct{}{} // and its batch completes
		wg.Wait()
		if len(rec.batches) != 2 || len(rec.batches[1]) != 2 {
			t.Fatalf("driver batches %v, want [[0] [1 2] in either order]", rec.batches)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
