package mq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmq/portmq/clock"
)

func TestMemoryIdempotencyStoreClaimCompleteRelease(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Unix(1000, 0))
	s := NewMemoryIdempotencyStore(time.Minute)
	s.SetClock(clk)
	claim := func(want ClaimResult) Claim {
		t.Helper()
		c, err := s.Claim(ctx, "a", time.Minute)
		if err != nil || c.Result != want {
			t.Fatalf("Claim = %v, %v; want %v", c.Result, err, want)
		}
		return c
	}
	c := claim(Claimed)
	claim(Busy)
	if err := s.Release(ctx, c); err != nil {
		t.Fatal(err)
	}
	c = claim(Claimed) // a failed attempt is retried
	if err := s.Complete(ctx, c); err != nil {
		t.Fatal(err)
	}
	claim(Done)
	if err := s.Complete(ctx, c); err != nil {
		t.Errorf("Complete again with the same token: %v, want nil", err)
	}
	if err := s.Release(ctx, c); err != nil { // release does not undo done
		t.Fatal(err)
	}
	claim(Done)
	clk.Advance(time.Minute)
	claim(Claimed) // retention over
	if s.Len() != 1 {
		t.Errorf("Len = %d after pruning, want 1", s.Len())
	}
}

func TestMemoryIdempotencyStoreFencesAnExpiredClaim(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Unix(1000, 0))
	s := NewMemoryIdempotencyStore(time.Hour)
	s.SetClock(clk)
	first, _ := s.Claim(ctx, "k", time.Second)
	clk.Advance(time.Second)
	second, _ := s.Claim(ctx, "k", time.Second)
	if second.Result != Claimed {
		t.Fatalf("claim after expiry: %v, want claimed", second.Result)
	}
	if err := s.Complete(ctx, first); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Complete with the expired token: %v, want ErrClaimLost", err)
	}
	if err := s.Release(ctx, first); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Release with the expired token: %v, want ErrClaimLost", err)
	}
	if c, _ := s.Claim(ctx, "k", time.Second); c.Result != Busy {
		t.Errorf("the second claim was disturbed: Claim = %v, want busy", c.Result)
	}
	if err := s.Complete(ctx, second); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Claim(ctx, "k", time.Second); c.Result != Done {
		t.Errorf("Claim = %v, want done", c.Result)
	}
}

func TestMemoryIdempotencyStoreOneWinnerUnderConcurrency(t *testing.T) {
	s := NewMemoryIdempotencyStore(0)
	var winners atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if r, _ := s.Claim(context.Background(), "k", 0); r.Result == Claimed {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if winners.Load() != 1 {
		t.Errorf("%d goroutines claimed the key", winners.Load())
	}
}
