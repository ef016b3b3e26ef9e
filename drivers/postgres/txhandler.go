package postgres

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// TxFunc is a handler that writes its effects through tx.
type TxFunc func(ctx context.Context, tx pgx.Tx, d *mq.Delivery) error

// errAckLost is the cause of a TxHandler's error when the delivery's lease
// ended before the transaction could ack it.
var errAckLost = errors.New("postgres: the delivery's lease ended before the handler's transaction acked it; rolled back, the message comes again")

// TxHandler returns an mq.Handler that runs fn inside a transaction on
// pool and commits fn's writes together with the message's bookkeeping:
//
//   - With an IdempotencyStore on the Consumer (mq.WithIdempotency(store),
//     store being this same store), the claim the Consumer took is
//     completed in the transaction (CompleteIn, fenced by its token), and
//     after the commit the handler tells the Consumer so
//     (mq.ClaimCompleted). The effect and the "done" mark commit together
//     or not at all, whatever broker the message came from: a redelivery
//     finds the key done and is acked without running fn.
//   - When the delivery comes from a postgres subscription on the same
//     database as pool (same server and database; the schema may differ),
//     the message is also acked in the transaction: its queue row is
//     deleted (or marked acked) by the commit, and the Consumer's own Ack
//     afterwards succeeds without a statement. If the lease ended first,
//     the transaction rolls back and the handler returns an error (the
//     message comes again).
//
// If fn returns an error, the transaction rolls back and the error is
// returned (the Consumer releases the claim and nacks with backoff). A
// claim lost to expiry (another process took the key) rolls back too and
// returns an error matching mq.ErrClaimLost. If the commit's outcome is
// unknown (the connection broke during COMMIT), the error is returned; a
// committed transaction is then found done on redelivery. store may be
// nil: then only the same-database ack makes the handler exactly-once.
func TxHandler(pool *pgxpool.Pool, store *IdempotencyStore, fn TxFunc) mq.Handler {
	var identity atomic.Pointer[string]
	return func(ctx context.Context, d *mq.Delivery) error {
		claim, claimed := mq.ClaimFromContext(ctx)
		claimed = claimed && store != nil && claim.Result == mq.Claimed
		var row *Row
		if !d.As(&row) || row.sub == nil {
			row = nil
		}
		tx, err := pool.Begin(ctx)
		if err != nil {
			return classified(err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		if err := fn(ctx, tx, d); err != nil {
			return err
		}
		if claimed {
			if err := store.CompleteIn(ctx, tx, claim); err != nil {
				return err
			}
		}
		ackedInTx := false
		if row != nil {
			same, err := sameDatabase(ctx, tx, &identity, row.sub.identity)
			if err != nil {
				return classified(err)
			}
			if same {
				if err := ackIn(ctx, tx, row); err != nil {
					return err
				}
				ackedInTx = true
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return classified(err)
		}
		if claimed {
			mq.ClaimCompleted(ctx)
		}
		if ackedInTx {
			row.sub.markAckedInTx(row.ID, row.Lease)
		}
		return nil
	}
}

// sameDatabase reports whether tx runs on the database named want,
// asking the server once per handler.
func sameDatabase(ctx context.Context, tx pgx.Tx, cache *atomic.Pointer[string], want string) (bool, error) {
	if p := cache.Load(); p != nil {
		return *p == want, nil
	}
	var id string
	if err := tx.QueryRow(ctx, `SELECT `+identityExpr).Scan(&id); err != nil {
		return false, err
	}
	cache.Store(&id)
	return id == want, nil
}

// ackIn acks row's delivery inside tx, if its lease still runs.
func ackIn(ctx context.Context, tx pgx.Tx, row *Row) error {
	s := row.sub
	q := s.st.ack
	if s.retention > 0 {
		q = s.st.ackRetain
	}
	rows, err := tx.Query(ctx, q, []int64{row.ID}, []int32{row.Lease}, s.id)
	if err != nil {
		return classified(err)
	}
	got := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return classified(err)
	}
	if !got {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: driver.MsgLeaseExpired, Err: errAckLost}
	}
	return nil
}
