package mq

import (
	"context"
	"sync"
	"time"
)

// ClaimResult is the outcome of IdempotencyStore.Claim.
type ClaimResult int

const (
	// Claimed: the caller now owns the key and must Complete or Release it.
	Claimed ClaimResult = iota
	// Done: a handler already succeeded for the key; skip the message.
	Done
	// Busy: another handler holds the claim; try again later.
	Busy
)

func (r ClaimResult) String() string {
	switch r {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case Busy:
		return "busy"
	}
	return "ClaimResult(?)"
}

// IdempotencyStore records which messages were processed, so that a
// Consumer runs its handler to success at most once per key (the message's
// DedupID, else its ID). The Consumer claims the key before the handler
// runs, completes it only after the handler succeeded, and releases it when
// the handler failed, so a failed attempt is retried, never swallowed.
// Implementations must be safe for concurrent use; a store shared by several
// processes (for example on Redis or PostgreSQL) makes the guarantee hold
// across them. Such a store must let a claim expire (SET NX PX on Redis, a
// claimed_until column in SQL) after the longest a handler may run (the
// Consumer's WithMaxExtension plus a lease): otherwise the claim of a
// process that died mid-handler holds the key, and its redelivered message
// waits as Busy forever. The in-memory store needs no expiry, since its
// claims die with their process.
type IdempotencyStore interface {
	// Claim must atomically take the key if it is neither done nor claimed.
	Claim(ctx context.Context, key string) (ClaimResult, error)
	// Complete must mark a claimed key done (for the store's retention).
	Complete(ctx context.Context, key string) error
	// Release must drop a claim so the key can be claimed again.
	Release(ctx context.Context, key string) error
}

// MemoryIdempotencyStore is an in-process IdempotencyStore. Done keys are
// kept for the retention given to NewMemoryIdempotencyStore; claims are kept
// until completed or released.
type MemoryIdempotencyStore struct {
	retention time.Duration
	now       func() time.Time

	mu     sync.Mutex
	keys   map[string]memKey
	expiry []expiring // done keys in completion order, for pruning
}

type memKey struct {
	done  bool
	until time.Time
}

type expiring struct {
	key   string
	until time.Time
}

// NewMemoryIdempotencyStore returns a store that remembers done keys for
// retention (24 h when 0).
func NewMemoryIdempotencyStore(retention time.Duration) *MemoryIdempotencyStore {
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	return &MemoryIdempotencyStore{retention: retention, now: time.Now, keys: make(map[string]memKey)}
}

// Claim implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Claim(_ context.Context, key string) (ClaimResult, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	k, ok := s.keys[key]
	switch {
	case !ok || (k.done && !now.Before(k.until)):
		s.keys[key] = memKey{}
		return Claimed, nil
	case k.done:
		return Done, nil
	}
	return Busy, nil
}

// Complete implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Complete(_ context.Context, key string) error {
	until := s.now().Add(s.retention)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = memKey{done: true, until: until}
	s.expiry = append(s.expiry, expiring{key, until})
	return nil
}

// Release implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Release(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.keys[key]; ok && !k.done {
		delete(s.keys, key)
	}
	return nil
}

// Len returns how many keys the store holds (claimed or done).
func (s *MemoryIdempotencyStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func (s *MemoryIdempotencyStore) prune(now time.Time) {
	i := 0
	for ; i < len(s.expiry) && !now.Before(s.expiry[i].until); i++ {
		e := s.expiry[i]
		if k, ok := s.keys[e.key]; ok && k.done && !now.Before(k.until) {
			delete(s.keys, e.key)
		}
	}
	if i > 0 {
		s.expiry = append(s.expiry[:0], s.expiry[i:]...)
	}
}
