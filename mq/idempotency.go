package mq

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/portmq/portmq/clock"
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

// Claim is the outcome of one IdempotencyStore.Claim call. When Result is
// Claimed, Token fences the claim: Complete and Release act only while the
// store still holds the key under this token, so a holder whose claim
// expired (and was taken by another process) cannot complete or release
// the newer claim.
type Claim struct {
	Key    string
	Result ClaimResult
	// Token is the store's fencing token for a Claimed key; opaque to the
	// caller, empty for Done and Busy.
	Token string
}

// IdempotencyStore records which messages were processed, so that a
// Consumer runs its handler to success at most once per key (the message's
// DedupID, else its ID). The Consumer claims the key before the handler
// runs, completes it only after the handler succeeded, and releases it when
// the handler failed, so a failed attempt is retried, never swallowed.
//
// Implementations must be safe for concurrent use; a store shared by
// several processes (Redis, PostgreSQL) makes the guarantee hold across
// them. The conformance package's RunIdempotencyStore checks an
// implementation.
type IdempotencyStore interface {
	// Claim must atomically take the key if it is neither done nor held by
	// an unexpired claim, returning Claimed and a fresh token; Done if a
	// handler completed it within the store's retention; Busy otherwise.
	// A claim expires ttl after it was taken (the Consumer passes the
	// longest a handler may hold a delivery: its WithMaxExtension plus one
	// lease), so the claim of a process that died mid-handler frees the
	// key for the redelivery. ttl <= 0 means the store's default.
	Claim(ctx context.Context, key string, ttl time.Duration) (Claim, error)
	// Complete must mark the claimed key done for the store's retention,
	// if the store still holds it under c.Token; otherwise it must change
	// nothing and return an error matching ErrClaimLost. Completing a key
	// already done under the same token succeeds (a handler may have
	// completed it in its own transaction).
	Complete(ctx context.Context, c Claim) error
	// Release must drop the claim so the key can be claimed again, if the
	// store still holds it under c.Token; otherwise it must change nothing
	// and return an error matching ErrClaimLost. It never undoes Done.
	Release(ctx context.Context, c Claim) error
}

// DefaultClaimTTL is how long a claim holds when Claim is given no ttl.
const DefaultClaimTTL = time.Hour

// MemoryIdempotencyStore is an in-process IdempotencyStore. Done keys are
// kept for the retention given to NewMemoryIdempotencyStore; claims until
// completed, released or expired. It holds only within one process: a
// subscription consumed by several processes needs a shared store
// (drivers/redis, drivers/postgres).
type MemoryIdempotencyStore struct {
	retention time.Duration
	clk       clock.Clock

	mu     sync.Mutex
	seq    uint64
	keys   map[string]memKey
	expiry []expiring // done keys in completion order, for pruning
}

type memKey struct {
	done  bool
	token uint64
	until time.Time // end of retention (done) or of the claim
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
	return &MemoryIdempotencyStore{retention: retention, clk: clock.Real{}, keys: make(map[string]memKey)}
}

// SetClock makes the store measure claims and retention with c (default
// clock.Real); a nil c restores the default. A test gives it the
// clock.Fake its other parts use.
func (s *MemoryIdempotencyStore) SetClock(c clock.Clock) {
	if c == nil {
		c = clock.Real{}
	}
	s.mu.Lock()
	s.clk = c
	s.mu.Unlock()
}

// Claim implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Claim(_ context.Context, key string, ttl time.Duration) (Claim, error) {
	if ttl <= 0 {
		ttl = DefaultClaimTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	s.prune(now)
	k, ok := s.keys[key]
	if ok && now.Before(k.until) {
		if k.done {
			return Claim{Key: key, Result: Done}, nil
		}
		return Claim{Key: key, Result: Busy}, nil
	}
	s.seq++
	s.keys[key] = memKey{token: s.seq, until: now.Add(ttl)}
	return Claim{Key: key, Result: Claimed, Token: strconv.FormatUint(s.seq, 10)}, nil
}

// holds reports whether the store holds c.Key under c.Token: claimed and
// unexpired, or done by that token.
func (s *MemoryIdempotencyStore) holds(c Claim, now time.Time) (memKey, bool) {
	k, ok := s.keys[c.Key]
	if !ok || c.Result != Claimed || strconv.FormatUint(k.token, 10) != c.Token {
		return k, false
	}
	return k, k.done || now.Before(k.until)
}

// Complete implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Complete(_ context.Context, c Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	k, ok := s.holds(c, now)
	if !ok {
		return claimLost("mq.MemoryIdempotencyStore.Complete", c.Key)
	}
	if k.done {
		return nil
	}
	until := now.Add(s.retention)
	s.keys[c.Key] = memKey{done: true, token: k.token, until: until}
	s.expiry = append(s.expiry, expiring{c.Key, until})
	return nil
}

// Release implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Release(_ context.Context, c Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.holds(c, s.clk.Now())
	if !ok {
		return claimLost("mq.MemoryIdempotencyStore.Release", c.Key)
	}
	if !k.done {
		delete(s.keys, c.Key)
	}
	return nil
}

func claimLost(op, key string) error {
	return &Error{Code: FailedPrecondition, Op: op, Msg: "idempotency claim lost (expired and possibly taken by another holder) for key " + strconv.Quote(key), kind: kindClaimLost}
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
