package mq

import (
	"context"
	"errors"
	"sync"
	"testing"
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
	for {
		s.acker.mu.Lock()
		n := len(s.acker.pending)
		s.acker.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
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
}
