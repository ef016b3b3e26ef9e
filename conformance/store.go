package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// StoreHarness tells RunIdempotencyStore how to reach one
// mq.IdempotencyStore implementation.
type StoreHarness struct {
	// Name names the store in reports, for example "redis".
	Name string
	// New returns a store whose done keys are kept for retention. Each
	// case calls it once and uses keys no other case or run uses, so the
	// stores may share one backend.
	New func(ctx context.Context, retention time.Duration) (mq.IdempotencyStore, error)
	// Wait lets d pass on the store's clock: a fake clock's Advance, or
	// a real sleep for a store whose server keeps the time (Redis PX,
	// PostgreSQL now()). Nil means a real sleep.
	Wait func(d time.Duration)
	// TTL is the claim lifetime the expiry cases use, and Retention the
	// retention they pass to New; both must be long enough for a round
	// trip to the store and short enough to wait out. Zero means 300 ms
	// and 600 ms.
	TTL, Retention time.Duration
}

type storeCase struct {
	name string
	run  func(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string)
}

var storeCases = []storeCase{
	{"ClaimIsExclusiveUntilReleased", testStoreClaimRelease},
	{"CompleteMakesKeyDone", testStoreComplete},
	{"ExpiredClaimCanBeTakenAgain", testStoreExpiry},
	{"ExpiredClaimIsFenced", testStoreFencing},
	{"DoneKeyIsForgottenAfterRetention", testStoreRetention},
	{"ConcurrentClaimsHaveOneWinner", testStoreConcurrency},
}

// RunIdempotencyStore checks an mq.IdempotencyStore against the contract
// the Consumer relies on (rule 7): a claim is exclusive, Complete makes
// the key done and Release frees it, a claim expires after its ttl, an
// expired claim taken by another holder is fenced (Complete and Release
// with the old token fail with mq.ErrClaimLost and change nothing), done
// keys are forgotten after the retention, and concurrent claims have one
// winner.
func RunIdempotencyStore(t *testing.T, h StoreHarness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("conformance: StoreHarness.New is nil")
	}
	if h.TTL <= 0 {
		h.TTL = 300 * time.Millisecond
	}
	if h.Retention <= 0 {
		h.Retention = 2 * h.TTL
	}
	if h.Wait == nil {
		// A store whose server keeps the time (Redis PX, PostgreSQL now())
		// expires claims on the server's clock, which is what the expiry
		// cases test: real time has to pass. A store on a fake clock
		// passes its Advance instead (TestMemoryIdempotencyStore).
		h.Wait = time.Sleep
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := h.New(ctx, h.Retention)
			if err != nil {
				t.Fatalf("StoreHarness.New: %v", err)
			}
			key := func(k string) string { return "portmq-conformance-" + run + "-" + c.name + "-" + k }
			c.run(t, &h, s, key)
		})
	}
}

func claim(t *testing.T, s mq.IdempotencyStore, key string, ttl time.Duration, want mq.ClaimResult) mq.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key, ttl)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	if c.Result != want {
		t.Fatalf("Claim(%q) = %v, want %v", key, c.Result, want)
	}
	if c.Key != key {
		t.Errorf("Claim(%q).Key = %q", key, c.Key)
	}
	if want == mq.Claimed && c.Token == "" {
		t.Errorf("Claim(%q) claimed with an empty token", key)
	}
	return c
}

func testStoreClaimRelease(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	ctx := context.Background()
	k := key("a")
	c := claim(t, s, k, time.Minute, mq.Claimed)
	claim(t, s, k, time.Minute, mq.Busy)
	claim(t, s, key("b"), time.Minute, mq.Claimed) // keys are independent
	if err := s.Release(ctx, c); err != nil {
		t.Fatalf("Release: %v", err)
	}
	c2 := claim(t, s, k, time.Minute, mq.Claimed) // a failed attempt is retried
	if c2.Token == c.Token {
		t.Errorf("a new claim reused token %q", c.Token)
	}
	if err := s.Release(ctx, c); !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Release with the released claim's token: %v, want ErrClaimLost", err)
	}
	claim(t, s, k, time.Minute, mq.Busy) // and the new claim still holds
}

func testStoreComplete(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	ctx := context.Background()
	k := key("a")
	c := claim(t, s, k, time.Minute, mq.Claimed)
	if err := s.Complete(ctx, c); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	claim(t, s, k, time.Minute, mq.Done)
	if err := s.Complete(ctx, c); err != nil {
		t.Errorf("Complete again with the same token: %v, want nil (the handler may have completed it in its own transaction)", err)
	}
	if err := s.Release(ctx, c); err != nil && !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Release of a done key: %v", err)
	}
	claim(t, s, k, time.Minute, mq.Done) // Release never undoes Done
	if err := s.Complete(ctx, mq.Claim{Key: k, Result: mq.Claimed, Token: c.Token + "x"}); !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Complete of a done key with a foreign token: %v, want ErrClaimLost", err)
	}
}

func testStoreExpiry(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	k := key("a")
	claim(t, s, k, h.TTL, mq.Claimed)
	claim(t, s, k, h.TTL, mq.Busy)
	h.Wait(h.TTL + h.TTL/2)
	claim(t, s, k, h.TTL, mq.Claimed) // the holder died: the redelivery may run
}

func testStoreFencing(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	ctx := context.Background()
	k := key("a")
	first := claim(t, s, k, h.TTL, mq.Claimed)
	h.Wait(h.TTL + h.TTL/2)
	second := claim(t, s, k, time.Minute, mq.Claimed)
	if err := s.Complete(ctx, first); !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Complete with the expired claim: %v, want ErrClaimLost", err)
	}
	if err := s.Release(ctx, first); !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Release with the expired claim: %v, want ErrClaimLost", err)
	}
	claim(t, s, k, time.Minute, mq.Busy) // the second holder's claim is undisturbed
	if err := s.Complete(ctx, second); err != nil {
		t.Fatalf("Complete with the live claim: %v", err)
	}
	claim(t, s, k, time.Minute, mq.Done)

	// An expired claim nobody took since is lost too: its holder cannot
	// know that no other process ran the handler meanwhile.
	k2 := key("b")
	c := claim(t, s, k2, h.TTL, mq.Claimed)
	h.Wait(h.TTL + h.TTL/2)
	if err := s.Complete(ctx, c); err == nil {
		claim(t, s, k2, time.Minute, mq.Done)
	} else if !errors.Is(err, mq.ErrClaimLost) {
		t.Errorf("Complete with an expired, untaken claim: %v, want nil or ErrClaimLost", err)
	}
}

func testStoreRetention(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	k := key("a")
	c := claim(t, s, k, time.Minute, mq.Claimed)
	if err := s.Complete(context.Background(), c); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	claim(t, s, k, time.Minute, mq.Done)
	h.Wait(h.Retention + h.TTL)
	claim(t, s, k, time.Minute, mq.Claimed)
}

func testStoreConcurrency(t *testing.T, h *StoreHarness, s mq.IdempotencyStore, key func(string) string) {
	const keys, racers = 20, 8
	var mu sync.Mutex
	winners := make(map[string]int)
	var wg sync.WaitGroup
	errs := make(chan error, keys*racers)
	for i := range keys {
		k := key(fmt.Sprint(i))
		for range racers {
			wg.Go(func() {
				c, err := s.Claim(context.Background(), k, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if c.Result == mq.Claimed {
					mu.Lock()
					winners[k]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Claim: %v", err)
	}
	if len(winners) != keys {
		t.Errorf("%d of %d keys were claimed", len(winners), keys)
	}
	for k, n := range winners {
		if n != 1 {
			t.Errorf("key %s was claimed by %d of %d racers", k, n, racers)
		}
	}
}
