package conformance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

// fakeTime is a clock the memory store reads and the harness advances.
type fakeTime struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func TestMemoryIdempotencyStore(t *testing.T) {
	clk := &fakeTime{now: time.Unix(1_700_000_000, 0)}
	conformance.RunIdempotencyStore(t, conformance.StoreHarness{
		Name: "memory",
		New: func(_ context.Context, retention time.Duration) (mq.IdempotencyStore, error) {
			s := mq.NewMemoryIdempotencyStore(retention)
			s.SetClock(clk.Now)
			return s, nil
		},
		Wait: clk.Advance,
	})
}
