package mq

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryIdempotencyStoreClaimCompleteRelease(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	s := NewMemoryIdempotencyStore(time.Minute)
	s.now = func() time.Time { return now }
	steps := []struct {
		do   func() (ClaimResult, error)
		want ClaimResult
	}{
		{func() (ClaimResult, error) { return s.Claim(ctx, "a") }, Claimed},
		{func() (ClaimResult, error) { return s.Claim(ctx, "a") }, Busy},
		{func() (ClaimResult, error) { return Claimed, s.Release(ctx, "a") }, Claimed},
		{func() (ClaimResult, error) { return s.Claim(ctx, "a") }, Claimed}, // a failed attempt is retried
		{func() (ClaimResult, error) { return Claimed, s.Complete(ctx, "a") }, Claimed},
		{func() (ClaimResult, error) { return s.Claim(ctx, "a") }, Done},
		{func() (ClaimResult, error) { return Claimed, s.Release(ctx, "a") }, Claimed}, // release does not undo done
		{func() (ClaimResult, error) { return s.Claim(ctx, "a") }, Done},
	}
	for i, st := range steps {
		got, err := st.do()
		if err != nil || got != st.want {
			t.Fatalf("step %d: got %v, %v; want %v", i, got, err, st.want)
		}
	}
	now = now.Add(time.Minute)
	if got, _ := s.Claim(ctx, "a"); got != Claimed {
		t.Errorf("after retention: %v, want claimed", got)
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d after pruning, want 1", s.Len())
	}
}

func TestMemoryIdempotencyStoreOneWinnerUnderConcurrency(t *testing.T) {
	s := NewMemoryIdempotencyStore(0)
	var winners atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if r, _ := s.Claim(context.Background(), "k"); r == Claimed {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if winners.Load() != 1 {
		t.Errorf("%d goroutines claimed the key", winners.Load())
	}
}
