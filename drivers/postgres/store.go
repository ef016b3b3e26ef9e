package postgres

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// StoreOptions configure NewIdempotencyStore. nil means the defaults.
type StoreOptions struct {
	// Schema holds the claims table (DefaultSchema when ""); it is
	// created on first use when missing.
	Schema string
	// Retention is how long a completed key is remembered (default 24h):
	// a redelivery within it is skipped.
	Retention time.Duration
}

// IdempotencyStore is an mq.IdempotencyStore in a PostgreSQL table,
// shared by every process that uses the same database and schema. A claim
// is a row with a fencing token from a sequence and an expiry; Complete
// and Release act only on the row holding that token. CompleteIn
// completes a claim inside the caller's transaction, so that the
// handler's writes and the "done" mark commit together (see TxHandler).
type IdempotencyStore struct {
	db        *pgxpool.Pool
	schema    string
	retention time.Duration

	ready     atomic.Bool
	readyMu   sync.Mutex
	lastPrune atomic.Int64

	claimSQL, completeSQL, releaseSQL, pruneSQL string
}

var _ mq.IdempotencyStore = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store on pool. It fails only on invalid
// options.
func NewIdempotencyStore(pool *pgxpool.Pool, opts *StoreOptions) (*IdempotencyStore, error) {
	if pool == nil {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: nil pool"}
	}
	if opts == nil {
		opts = &StoreOptions{}
	}
	schema, err := checkSchema(opts.Schema)
	if err != nil {
		return nil, err
	}
	if opts.Retention < 0 {
		return nil, &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: negative retention"}
	}
	s := &IdempotencyStore{db: pool, schema: schema, retention: opts.Retention}
	if s.retention == 0 {
		s.retention = 24 * time.Hour
	}
	s.claimSQL = `INSERT INTO ` + schema + `.claims AS c (key, token, done, until)
		VALUES ($1, nextval('` + schema + `.claim_tokens'), false, now() + $2 * interval '1 microsecond')
		ON CONFLICT (key) DO UPDATE SET token = excluded.token, done = false, until = excluded.until WHERE c.until <= now()
		RETURNING token`
	s.completeSQL = `UPDATE ` + schema + `.claims SET done = true, until = now() + $3 * interval '1 microsecond'
		WHERE key = $1 AND token = $2 AND (done OR until > now()) RETURNING token`
	s.releaseSQL = `WITH d AS (DELETE FROM ` + schema + `.claims WHERE key = $1 AND token = $2 AND NOT done AND until > now() RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM d) OR EXISTS (SELECT 1 FROM ` + schema + `.claims WHERE key = $1 AND token = $2 AND done)`
	s.pruneSQL = `DELETE FROM ` + schema + `.claims WHERE key IN (SELECT key FROM ` + schema + `.claims WHERE until < now() LIMIT 1000)`
	return s, nil
}

func (s *IdempotencyStore) ensure(ctx context.Context) error {
	if s.ready.Load() {
		return nil
	}
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	if s.ready.Load() {
		return nil
	}
	if err := ensureSchema(ctx, s.db, s.db, s.schema); err != nil {
		return err
	}
	s.ready.Store(true)
	return nil
}

func storeError(op string, err error) error {
	if err == nil {
		return nil
	}
	err = classified(err)
	return &mq.Error{Code: mq.Code(err), Op: op, Err: err}
}

// Claim implements mq.IdempotencyStore.
func (s *IdempotencyStore) Claim(ctx context.Context, key string, ttl time.Duration) (mq.Claim, error) {
	const op = "postgres.IdempotencyStore.Claim"
	if err := s.ensure(ctx); err != nil {
		return mq.Claim{}, storeError(op, err)
	}
	if ttl <= 0 {
		ttl = mq.DefaultClaimTTL
	}
	s.prune(ctx)
	rows, err := s.db.Query(ctx, s.claimSQL, key, ttl.Microseconds())
	if err != nil {
		return mq.Claim{}, storeError(op, err)
	}
	var token int64
	got := false
	for rows.Next() {
		got = true
		if err := rows.Scan(&token); err != nil {
			rows.Close()
			return mq.Claim{}, storeError(op, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mq.Claim{}, storeError(op, err)
	}
	if got {
		return mq.Claim{Key: key, Result: mq.Claimed, Token: strconv.FormatInt(token, 10)}, nil
	}
	var done bool
	err = s.db.QueryRow(ctx, `SELECT done FROM `+s.schema+`.claims WHERE key = $1 AND until > now()`, key).Scan(&done)
	switch {
	case err != nil && classify(err) == driver.NotFound:
		return mq.Claim{Key: key, Result: mq.Busy}, nil // expired meanwhile: try again
	case err != nil:
		return mq.Claim{}, storeError(op, err)
	case done:
		return mq.Claim{Key: key, Result: mq.Done}, nil
	}
	return mq.Claim{Key: key, Result: mq.Busy}, nil
}

// prune deletes expired rows, in batches, at most once a minute.
func (s *IdempotencyStore) prune(ctx context.Context) {
	now := time.Now().UnixNano()
	last := s.lastPrune.Load()
	if now-last < int64(time.Minute) || !s.lastPrune.CompareAndSwap(last, now) {
		return
	}
	_, _ = s.db.Exec(ctx, s.pruneSQL)
}

// Complete implements mq.IdempotencyStore.
func (s *IdempotencyStore) Complete(ctx context.Context, c mq.Claim) error {
	return s.CompleteIn(ctx, s.db, c)
}

// CompleteIn completes claim c inside tx (a pgx.Tx), so that the mark
// commits, or rolls back, with the caller's other writes. Like Complete,
// it fails with an error matching mq.ErrClaimLost, changing nothing, when
// the store no longer holds the key under c.Token; the caller must then
// roll back, since another holder may be running the handler.
func (s *IdempotencyStore) CompleteIn(ctx context.Context, tx Querier, c mq.Claim) error {
	const op = "postgres.IdempotencyStore.Complete"
	if err := s.ensure(ctx); err != nil {
		return storeError(op, err)
	}
	token, ok := s.token(c)
	if !ok {
		return claimLost(op, c.Key)
	}
	rows, err := tx.Query(ctx, s.completeSQL, c.Key, token, s.retention.Microseconds())
	if err != nil {
		return storeError(op, err)
	}
	got := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return storeError(op, err)
	}
	if !got {
		return claimLost(op, c.Key)
	}
	return nil
}

// Release implements mq.IdempotencyStore.
func (s *IdempotencyStore) Release(ctx context.Context, c mq.Claim) error {
	const op = "postgres.IdempotencyStore.Release"
	if err := s.ensure(ctx); err != nil {
		return storeError(op, err)
	}
	token, ok := s.token(c)
	if !ok {
		return claimLost(op, c.Key)
	}
	var held bool
	if err := s.db.QueryRow(ctx, s.releaseSQL, c.Key, token).Scan(&held); err != nil {
		return storeError(op, err)
	}
	if !held {
		return claimLost(op, c.Key)
	}
	return nil
}

func (s *IdempotencyStore) token(c mq.Claim) (int64, bool) {
	if c.Result != mq.Claimed {
		return 0, false
	}
	t, err := strconv.ParseInt(c.Token, 10, 64)
	return t, err == nil
}

func claimLost(op, key string) error {
	return fmt.Errorf("%s: key %q: %w (expired and possibly taken by another holder)", op, key, mq.ErrClaimLost)
}
