package postgres

import (
	"context"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portmq/portmq/mq/driver"
)

// DefaultSchema is the PostgreSQL schema that holds portmq's tables when
// neither the URL nor the Options name one.
const DefaultSchema = "portmq"

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,39}$`)

// checkSchema validates a schema name: 1 to 40 bytes of a-z, 0-9 and _,
// not starting with a digit, so that it needs no quoting anywhere and the
// notification channel derived from it fits PostgreSQL's 63 bytes.
func checkSchema(s string) (string, error) {
	if s == "" {
		return DefaultSchema, nil
	}
	if !schemaName.MatchString(s) {
		return "", &driver.Error{Code: driver.InvalidArgument, Msg: "postgres: schema " + quote(s) + " must be 1 to 40 bytes of a-z, 0-9 and _, not starting with a digit"}
	}
	return s, nil
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// Schema returns the SQL that creates portmq's objects in schema (the
// default when ""), for migrations: every statement is idempotent (IF NOT
// EXISTS), so it may run on every deploy. Every object lives in the schema,
// so the schema name is the prefix of every object. It panics on an
// invalid schema name (1 to 40 bytes of a-z, 0-9 and _).
//
// The objects are:
//
//   - topics(id, name, dedup_window): one row per topic.
//   - subscriptions(id, topic_id, name, lease, max_attempts, dead_letter,
//     ordered, retention): one row per subscription; (topic_id, name) is
//     unique, so the same name on another topic is another subscription.
//   - queue: one row per message per subscription (copy per
//     subscription), with the delivery state in columns: available_at
//     (delay and nack delay), locked_until (the lease), attempts,
//     leases (a fencing counter of deliveries), acked_at (set instead
//     of deleting when the subscription has a retention), and the
//     dead-letter metadata dl_reason, dl_attempts, dl_source.
//   - dedup(topic_id, dedup_id, sent_at): producer-side deduplication;
//     its primary key is the unique constraint that drops a duplicate.
//   - claims(key, token, done, until): the IdempotencyStore.
//   - the sequence claim_tokens, the fencing tokens of claims.
func Schema(schema string) string {
	s, err := checkSchema(schema)
	if err != nil {
		panic(err)
	}
	return strings.ReplaceAll(schemaSQL, "{s}", s)
}

const schemaSQL = `CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.topics (
	id bigserial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	dedup_window interval NOT NULL DEFAULT '0',
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.subscriptions (
	id bigserial PRIMARY KEY,
	topic_id bigint NOT NULL REFERENCES {s}.topics (id) ON DELETE CASCADE,
	name text NOT NULL,
	lease interval NOT NULL DEFAULT '30 s',
	max_attempts integer NOT NULL DEFAULT 0,
	dead_letter text,
	ordered boolean NOT NULL DEFAULT false,
	retention interval NOT NULL DEFAULT '0',
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (topic_id, name)
);
CREATE TABLE IF NOT EXISTS {s}.queue (
	id bigserial PRIMARY KEY,
	sub_id bigint NOT NULL,
	msg_id text NOT NULL,
	body bytea NOT NULL,
	attrs bytea,
	key bytea,
	dedup_id bytea,
	published_at timestamptz NOT NULL,
	available_at timestamptz NOT NULL,
	locked_until timestamptz,
	attempts integer NOT NULL DEFAULT 0,
	leases integer NOT NULL DEFAULT 0,
	acked_at timestamptz,
	dl_reason text,
	dl_attempts integer,
	dl_source text
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_cost_delay = 0);
CREATE INDEX IF NOT EXISTS queue_ready ON {s}.queue (sub_id, id) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS queue_key ON {s}.queue (sub_id, key, id) WHERE acked_at IS NULL AND key IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_acked ON {s}.queue (sub_id, acked_at) WHERE acked_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.dedup (
	topic_id bigint NOT NULL,
	dedup_id bytea NOT NULL,
	msg_id text NOT NULL,
	sent_at timestamptz NOT NULL,
	PRIMARY KEY (topic_id, dedup_id)
);
CREATE SEQUENCE IF NOT EXISTS {s}.claim_tokens;
CREATE TABLE IF NOT EXISTS {s}.claims (
	key text PRIMARY KEY,
	token bigint NOT NULL,
	done boolean NOT NULL DEFAULT false,
	until timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS claims_until ON {s}.claims (until);
`

// Migrate creates portmq's objects in schema (the default when "") if
// they are missing, under a transaction-scoped advisory lock so that
// processes starting together do not race. It is what Schema returns, run
// in one transaction.
func Migrate(ctx context.Context, db Beginner, schema string) error {
	s, err := checkSchema(schema)
	if err != nil {
		return err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return classified(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "portmq-migrate-"+s); err != nil {
		return classified(err)
	}
	if _, err := tx.Exec(ctx, Schema(s)); err != nil {
		return classified(err)
	}
	return classified(tx.Commit(ctx))
}

// Beginner starts transactions: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx
// (a savepoint).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ensureSchema runs Migrate unless the schema's newest object exists.
func ensureSchema(ctx context.Context, db Beginner, q Querier, schema string) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, schema+".claims").Scan(&ok); err != nil {
		return classified(err)
	}
	if ok {
		return nil
	}
	return Migrate(ctx, db, schema)
}

// Querier runs statements: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
