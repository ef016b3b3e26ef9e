package postgres

import (
	"strconv"
	"strings"
)

// stmts are the statements of one schema. Each is one round trip; pgx
// prepares and caches them per connection.
type stmts struct {
	schema  string
	channel string // the LISTEN/NOTIFY channel of the schema

	send, sendPlain, sendBodies, ack, ackRetain, extend, nack, deadLetter, reap, nextDue, cleanAcked, cleanDedup, seek string
}

// channelOf is the notification channel of a schema.
func channelOf(schema string) string { return "portmq_" + schema }

func newStmts(schema string) *stmts {
	r := strings.NewReplacer("{s}", schema)
	s := &stmts{schema: schema, channel: channelOf(schema)}
	s.send = r.Replace(sendSQL)
	s.sendPlain = r.Replace(sendPlainSQL)
	s.sendBodies = r.Replace(sendBodiesSQL)
	s.ack = r.Replace(ackSQL)
	s.ackRetain = r.Replace(ackRetainSQL)
	s.extend = r.Replace(extendSQL)
	s.nack = r.Replace(nackSQL)
	s.deadLetter = r.Replace(deadLetterSQL)
	s.reap = r.Replace(reapSQL)
	s.nextDue = r.Replace(nextDueSQL)
	s.cleanAcked = r.Replace(cleanAckedSQL)
	s.cleanDedup = r.Replace(cleanDedupSQL)
	s.seek = r.Replace(seekSQL)
	return s
}

// pickFor returns the pick statement for a subscription's settings, with
// them written in (not parameters) so that the planner sees the plain
// conditions.
func (s *stmts) pickFor(maxAttempts int, ordered bool) string {
	q := pickSQL
	cond := ""
	if maxAttempts > 0 {
		cond = "\n\tAND q.attempts < " + strconv.Itoa(maxAttempts)
	}
	if ordered {
		cond += orderedSQL
	}
	q = strings.Replace(q, "{cond}", cond, 1)
	return strings.ReplaceAll(q, "{s}", s.schema)
}

// sendSQL inserts a batch ($2..$7, one array element per message) into
// the queue of every subscription of topic $1, dropping messages whose
// DedupID was sent within the topic's dedup window (the dedup primary key
// decides; the first of several equal DedupIDs in one batch wins), and
// notifies the subscriptions ($8 is the channel). It returns whether the
// topic exists.
const sendSQL = `WITH t AS (SELECT id, dedup_window FROM {s}.topics WHERE name = $1),
m AS (SELECT * FROM unnest($2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bigint[])
	WITH ORDINALITY AS m(msg_id, body, attrs, key, dedup_id, delay_us, ord)),
d AS (INSERT INTO {s}.dedup AS x (topic_id, dedup_id, msg_id, sent_at)
	SELECT DISTINCT ON (m.dedup_id) t.id, m.dedup_id, m.msg_id, now() FROM m, t
	WHERE m.dedup_id IS NOT NULL AND t.dedup_window > interval '0'
	ORDER BY m.dedup_id, m.ord
	ON CONFLICT (topic_id, dedup_id) DO UPDATE SET msg_id = excluded.msg_id, sent_at = excluded.sent_at
	WHERE x.sent_at < now() - (SELECT dedup_window FROM t)
	RETURNING x.msg_id),
ins AS (INSERT INTO {s}.queue (sub_id, msg_id, body, attrs, key, dedup_id, published_at, available_at)
	SELECT s.id, m.msg_id, m.body, m.attrs, m.key, m.dedup_id, now(), now() + m.delay_us * interval '1 microsecond'
	FROM m CROSS JOIN t JOIN {s}.subscriptions s ON s.topic_id = t.id
	WHERE m.dedup_id IS NULL OR t.dedup_window <= interval '0' OR m.msg_id IN (SELECT msg_id FROM d)
	ORDER BY m.ord, s.id
	RETURNING sub_id)
SELECT EXISTS (SELECT 1 FROM t), (SELECT count(pg_notify($8, n.sub_id::text)) FROM (SELECT DISTINCT sub_id FROM ins) n)`

// sendPlainSQL is sendSQL for a batch without DedupIDs ($6 is unused but
// kept so both take the same arguments). It needs no sort to keep send
// order: the subscriptions are the outer side of a nested loop over the
// batch (LATERAL with a reference to the subscription, and OFFSET 0 so
// the subquery is not flattened), so each subscription's rows are
// inserted, and numbered, in batch order.
const sendPlainSQL = `WITH t AS (SELECT id FROM {s}.topics WHERE name = $1),
ins AS (INSERT INTO {s}.queue (sub_id, msg_id, body, attrs, key, published_at, available_at)
	SELECT x.sid, x.msg_id, x.body, x.attrs, x.key, now(), now() + x.delay_us * interval '1 microsecond'
	FROM t JOIN {s}.subscriptions s ON s.topic_id = t.id
	CROSS JOIN LATERAL (SELECT s.id AS sid, m.* FROM unnest($2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $7::bigint[])
		AS m(msg_id, body, attrs, key, delay_us) OFFSET 0) x
	WHERE $6::bytea[] IS NULL
	RETURNING sub_id)
SELECT EXISTS (SELECT 1 FROM t), (SELECT count(pg_notify($8, n.sub_id::text)) FROM (SELECT DISTINCT sub_id FROM ins) n)`

// sendBodiesSQL is sendPlainSQL for a batch of bodies alone (no
// attributes, keys, DedupIDs or delays): $2 the IDs, $3 the bodies, $4 the
// channel.
const sendBodiesSQL = `WITH t AS (SELECT id FROM {s}.topics WHERE name = $1),
ins AS (INSERT INTO {s}.queue (sub_id, msg_id, body, published_at, available_at)
	SELECT x.sid, x.msg_id, x.body, now(), now()
	FROM t JOIN {s}.subscriptions s ON s.topic_id = t.id
	CROSS JOIN LATERAL (SELECT s.id AS sid, m.* FROM unnest($2::text[], $3::bytea[]) AS m(msg_id, body) OFFSET 0) x
	RETURNING sub_id)
SELECT EXISTS (SELECT 1 FROM t), (SELECT count(pg_notify($4, n.sub_id::text)) FROM (SELECT DISTINCT sub_id FROM ins) n)`

const returning = `q.id, q.leases, q.msg_id, q.body, q.attrs, q.key, q.dedup_id, q.published_at, q.attempts, q.locked_until, q.dl_reason, q.dl_attempts, q.dl_source`

// pickSQL leases up to $2 ready messages of subscription $1 for $3
// microseconds, skipping rows other receivers hold locked, and never a
// message that reached max attempts (reapSQL dead-letters those); {cond}
// holds those conditions (pickFor).
//
// It is the UPDATE alone, returning the rows, as a hand-written queue's
// would be: no tail for the case it leases nothing. An earlier form
// returned nextDueSQL in an extra row (UNION ALL ... WHERE NOT EXISTS)
// to save an idle receive a round trip, and every pick paid for it: the
// leased rows were materialized for the second reference and the
// statement planned bigger. An idle receive asks nextDueSQL instead
// (BenchmarkVersusRaw consume/8, 8 alternating runs: ratio median 0.86
// with the tail, 0.90 with nextDueSQL on its own).
const pickSQL = `WITH c AS (SELECT q.id FROM {s}.queue q
	WHERE q.sub_id = $1 AND q.acked_at IS NULL AND q.available_at <= now()
	AND (q.locked_until IS NULL OR q.locked_until <= now()){cond}
	ORDER BY q.id LIMIT $2 FOR UPDATE SKIP LOCKED)
UPDATE {s}.queue q SET attempts = q.attempts + 1, leases = q.leases + 1, locked_until = now() + $3 * interval '1 microsecond'
	FROM c WHERE q.id = c.id
	RETURNING ` + returning

// nextDueSQL is the seconds until the next delayed message of
// subscription $1 is due or the next lease ends (NULL for none), which an
// idle receive waits for when it comes before the poll interval. It
// reads the subscription's unsettled rows once (least skips NULLs), not
// once for each of the two times.
const nextDueSQL = `SELECT extract(epoch FROM (SELECT min(least(CASE WHEN available_at > now() THEN available_at END,
		CASE WHEN locked_until > now() THEN locked_until END))
	FROM {s}.queue WHERE sub_id = $1 AND acked_at IS NULL AND (available_at > now() OR locked_until > now())) - now())::float8`

// orderedSQL keeps all but the oldest unsettled message of each key back:
// one in flight per key, in send order, with no lock beyond the rows.
const orderedSQL = `
	AND (q.key IS NULL OR NOT EXISTS (SELECT 1 FROM {s}.queue o
		WHERE o.sub_id = q.sub_id AND o.key = q.key AND o.id < q.id AND o.acked_at IS NULL))`

// leased matches the deliveries ($1 ids, $2 their lease counters) of
// subscription $3 whose lease still runs.
//
// It is written with = ANY and array_position rather than a join with
// unnest, so that the generic plan of the prepared statement is an index
// scan of the primary key whatever the batch size (a join made PostgreSQL
// pick a hash join over the whole table, twice as slow at 100 ids).
//
// It does not say acked_at IS NULL, though it means it: a running lease
// implies it, since every statement that sets acked_at clears
// locked_until (ackRetainSQL) and only unacked rows get a lease
// (pickSQL, seekSQL). Saying it would let the planner use the partial
// index queue_ready (sub_id, id) WHERE acked_at IS NULL, and with
// statistics taken while the queue was nearly empty (a queue's usual
// churn) it did: each ack of 100 scanned every ready row of the
// subscription, filtering them against the array, instead of 100 probes
// of the primary key.
const leased = `q.id = ANY($1::bigint[]) AND q.leases = ($2::int[])[array_position($1::bigint[], q.id)]
	AND q.sub_id = $3 AND q.locked_until > now()`

const ackSQL = `DELETE FROM {s}.queue q WHERE ` + leased + ` RETURNING q.id`

const ackRetainSQL = `UPDATE {s}.queue q SET acked_at = now(), locked_until = NULL
WHERE ` + leased + ` RETURNING q.id`

const extendSQL = `UPDATE {s}.queue q SET locked_until = now() + $4 * interval '1 microsecond'
WHERE ` + leased + ` RETURNING q.id`

// dlInsert copies the rows of moved (with a reason column) into every
// subscription of dead-letter topic $DLQ, with the metadata columns.
const dlInsert = `dl AS (INSERT INTO {s}.queue (sub_id, msg_id, body, attrs, key, dedup_id, published_at, available_at, dl_reason, dl_attempts, dl_source)
	SELECT ds.id, m.msg_id, m.body, m.attrs, m.key, m.dedup_id, m.published_at, now(), m.reason, m.attempts, $SRC
	FROM moved m JOIN {s}.topics dt ON dt.name = $DLQ JOIN {s}.subscriptions ds ON ds.topic_id = dt.id
	ORDER BY m.id, ds.id
	RETURNING sub_id)`

// nackSQL makes deliveries available again after $4 microseconds, or, at
// max attempts $5, moves them to dead-letter topic $6 ($7 the reason, $8
// the source subscription) in the same statement. $9 is the channel.
var nackSQL = `WITH moved AS (DELETE FROM {s}.queue q WHERE ` + leased + ` AND $5 > 0 AND q.attempts >= $5
	RETURNING q.id, q.msg_id, q.body, q.attrs, q.key, q.dedup_id, q.published_at, q.attempts, $7::text AS reason),
back AS (UPDATE {s}.queue q SET locked_until = NULL, available_at = now() + $4 * interval '1 microsecond'
	WHERE ` + leased + ` AND NOT ($5 > 0 AND q.attempts >= $5) RETURNING q.id),
` + dlInsertNack + `
SELECT array(SELECT id FROM moved UNION ALL SELECT id FROM back),
	(SELECT count(pg_notify($9, n.x::text)) FROM (SELECT DISTINCT sub_id AS x FROM dl
		UNION SELECT $3 WHERE $4 = 0 AND EXISTS (SELECT 1 FROM back)) n)`

var dlInsertNack = strings.NewReplacer("$SRC", "$8", "$DLQ", "$6").Replace(dlInsert)

// deadLetterSQL moves deliveries (with reasons $4) to dead-letter topic
// $5 ($6 the source subscription, $7 the channel).
var deadLetterSQL = `WITH moved AS (DELETE FROM {s}.queue q WHERE ` + leased + `
	RETURNING q.id, q.msg_id, q.body, q.attrs, q.key, q.dedup_id, q.published_at, q.attempts,
		($4::text[])[array_position($1::bigint[], q.id)] AS reason),
` + strings.NewReplacer("$SRC", "$6", "$DLQ", "$5").Replace(dlInsert) + `
SELECT array(SELECT id FROM moved), (SELECT count(pg_notify($7, n.x::text)) FROM (SELECT DISTINCT sub_id AS x FROM dl) n)`

// reapSQL dead-letters up to $6 messages of subscription $1 whose lease
// ended on their last attempt ($2 max attempts, $3 the dead-letter topic,
// $4 the source, $5 the channel).
var reapSQL = `WITH moved AS (DELETE FROM {s}.queue q WHERE q.id IN (SELECT r.id FROM {s}.queue r
		WHERE r.sub_id = $1 AND r.acked_at IS NULL AND r.attempts >= $2
		AND (r.locked_until IS NULL OR r.locked_until <= now())
		ORDER BY r.id LIMIT $6 FOR UPDATE SKIP LOCKED)
	RETURNING q.id, q.msg_id, q.body, q.attrs, q.key, q.dedup_id, q.published_at, q.attempts,
		'lease expired on attempt ' || q.attempts::text || ' of ' || ($2::int)::text || ' (max attempts)' AS reason),
` + strings.NewReplacer("$SRC", "$4", "$DLQ", "$3").Replace(dlInsert) + `
SELECT (SELECT count(*) FROM moved), (SELECT count(pg_notify($5, n.x::text)) FROM (SELECT DISTINCT sub_id AS x FROM dl) n)`

// cleanAckedSQL deletes up to $3 acked messages of subscription $1 older
// than its retention ($2 microseconds).
const cleanAckedSQL = `DELETE FROM {s}.queue WHERE id IN (SELECT id FROM {s}.queue
	WHERE sub_id = $1 AND acked_at IS NOT NULL AND acked_at < now() - $2 * interval '1 microsecond' LIMIT $3)`

// cleanDedupSQL deletes up to $2 dedup entries of topic $1 past its window.
const cleanDedupSQL = `DELETE FROM {s}.dedup x USING {s}.topics t WHERE t.id = $1 AND x.topic_id = t.id
	AND x.dedup_id IN (SELECT dedup_id FROM {s}.dedup y WHERE y.topic_id = $1 AND y.sent_at < now() - t.dedup_window LIMIT $2)`

// seekSQL makes the retained messages of subscription $1 published at or
// after $2 available again, attempts starting over (in-flight deliveries
// keep their lease), and notifies channel $3.
const seekSQL = `WITH u AS (UPDATE {s}.queue SET acked_at = NULL, attempts = 0, available_at = now(), locked_until = NULL
	WHERE sub_id = $1 AND published_at >= $2 AND (acked_at IS NOT NULL OR locked_until IS NULL OR locked_until <= now())
	RETURNING 1)
SELECT (SELECT count(*) FROM u), pg_notify($3, ($1::bigint)::text)`
