package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq"
)

// StoreOptions configures an IdempotencyStore; nil means the defaults.
type StoreOptions struct {
	// Prefix starts every key of the store (DefaultStorePrefix when "").
	// Stores that must see each other's keys (the Consumers of one
	// subscription, in every process) use the same prefix.
	Prefix string
	// Retention is how long a completed key is remembered (24 h when 0).
	Retention time.Duration
}

// DefaultStorePrefix is the key prefix of an IdempotencyStore.
const DefaultStorePrefix = "portmq:idem"

// IdempotencyStore is an mq.IdempotencyStore in Redis, shared by every
// process that uses the same server and prefix: a Consumer with it runs
// its handler to success at most once per DedupID across all the replicas
// of a subscription.
//
// A key is one string: "c:TOKEN" while claimed, with the claim's ttl as
// its expiry (SET PX), and "d:TOKEN" once completed, with the retention as
// its expiry. Claim takes the key atomically when it is absent (never
// claimed, released, or expired); Complete and Release are Lua scripts
// that act only while the key holds the caller's token, so a holder whose
// claim expired and was taken by another process is fenced off. The
// expiry is the server's clock, so processes need no clock agreement.
type IdempotencyStore struct {
	c         *goredis.Client
	prefix    string
	retention time.Duration
}

var _ mq.IdempotencyStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store working through c, which the caller
// keeps owning.
func NewIdempotencyStore(c *goredis.Client, opts *StoreOptions) *IdempotencyStore {
	s := &IdempotencyStore{c: c, prefix: DefaultStorePrefix, retention: 24 * time.Hour}
	if opts != nil {
		if opts.Prefix != "" {
			s.prefix = opts.Prefix
		}
		if opts.Retention > 0 {
			s.retention = opts.Retention
		}
	}
	return s
}

var claimScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 2) == 'd:' then return 1 end
  return 2
end
redis.call('SET', KEYS[1], 'c:' .. ARGV[1], 'PX', ARGV[2])
return 0
`)

// completeScript marks a key done when it holds the caller's token
// (claimed or already done by it). Returns 1, or 0 when the claim is lost.
var completeScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'c:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'd:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == 'd:' .. ARGV[1] then return 1 end
return 0
`)

// releaseScript drops a claim that holds the caller's token; a done key
// stays done. Returns 1, or 0 when the claim is lost.
var releaseScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'c:' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if v == 'd:' .. ARGV[1] then return 1 end
return 0
`)

func (s *IdempotencyStore) key(k string) string { return s.prefix + ":" + k }

// Claim implements mq.IdempotencyStore.
func (s *IdempotencyStore) Claim(ctx context.Context, key string, ttl time.Duration) (mq.Claim, error) {
	if ttl <= 0 {
		ttl = mq.DefaultClaimTTL
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	r, err := claimScript.Run(ctx, s.c, []string{s.key(key)}, tok, max(ttl.Milliseconds(), 1)).Int64()
	if err != nil {
		return mq.Claim{}, storeError("Claim", key, err)
	}
	switch r {
	case 0:
		return mq.Claim{Key: key, Result: mq.Claimed, Token: tok}, nil
	case 1:
		return mq.Claim{Key: key, Result: mq.Done}, nil
	}
	return mq.Claim{Key: key, Result: mq.Busy}, nil
}

// Complete implements mq.IdempotencyStore.
func (s *IdempotencyStore) Complete(ctx context.Context, c mq.Claim) error {
	return s.settle(ctx, "Complete", completeScript, c)
}

// Release implements mq.IdempotencyStore.
func (s *IdempotencyStore) Release(ctx context.Context, c mq.Claim) error {
	return s.settle(ctx, "Release", releaseScript, c)
}

func (s *IdempotencyStore) settle(ctx context.Context, op string, sc *goredis.Script, c mq.Claim) error {
	if c.Result != mq.Claimed || c.Token == "" {
		return fmt.Errorf("redis: IdempotencyStore.%s of key %s without a claim: %w", op, strconv.Quote(c.Key), mq.ErrClaimLost)
	}
	r, err := sc.Run(ctx, s.c, []string{s.key(c.Key)}, c.Token, s.retention.Milliseconds()).Int64()
	if err != nil {
		return storeError(op, c.Key, err)
	}
	if r == 0 {
		return fmt.Errorf("redis: IdempotencyStore.%s: claim of key %s expired and may have been taken by another holder: %w", op, strconv.Quote(c.Key), mq.ErrClaimLost)
	}
	return nil
}

// storeError gives a store error its code.
func storeError(op, key string, err error) error {
	code := classify(err)
	if code == mq.Unknown {
		return fmt.Errorf("redis: IdempotencyStore.%s(%s): %w", op, strconv.Quote(key), err)
	}
	return &mq.Error{Code: code, Op: "redis.IdempotencyStore." + op, Msg: "key " + strconv.Quote(key), Err: err}
}
