// Package postgres is the portmq driver for PostgreSQL (12 or later;
// tested on 15), on github.com/jackc/pgx/v5 and its pgxpool. It gives
// three things:
//
//   - a queue driver: topics and subscriptions in tables, every rule of
//     the contract native;
//   - a transactional send ([Send]): messages inserted in the caller's
//     transaction, visible exactly when it commits (the outbox), which
//     mq.Forward relays to any other portmq URL;
//   - exactly-once effects ([NewIdempotencyStore], [TxHandler]): the
//     handler's writes and the message's "done" mark commit together, for
//     messages from any broker.
//
// Import it for its side effect to enable postgres:// and postgresql://
// URLs on mq's default mux:
//
//	import _ "github.com/portmq/portmq/drivers/postgres"
//
//	p, err := mq.OpenProducer(ctx, "postgres://app@localhost:5432/shop?topic=orders")
//	s, err := mq.OpenSubscription(ctx, "postgres://app@localhost:5432/shop?topic=orders&subscription=payments&max_attempts=5")
//
// or make handles over a pool of your own with [NewTopic],
// [NewSubscription] and [NewAdmin] and wrap them with mq.NewProducer,
// mq.NewSubscription and mq.NewAdmin.
//
// # URLs
//
// A URL is a libpq connection URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE,
// plus portmq's query parameters. portmq's parameters are taken out before
// the URL goes to pgxpool.ParseConfig; the libpq, pgx and pgxpool
// parameters pass through unchanged: application_name, channel_binding,
// connect_timeout, dbname, default_query_exec_mode,
// description_cache_capacity, fallback_application_name, gssencmode, host,
// krbspn, krbsrvname, load_balance_hosts, min_read_buffer_size, options,
// passfile, password, pool_health_check_period, pool_max_conn_idle_time,
// pool_max_conn_lifetime, pool_max_conn_lifetime_jitter, pool_max_conns,
// pool_min_conns, pool_min_idle_conns, port, search_path, service,
// servicefile, sslcert, sslkey, sslmode, sslnegotiation, sslpassword,
// sslrootcert, sslsni, statement_cache_capacity, target_session_attrs,
// user. Any other parameter, and a repeated one, fails with an error
// wrapping driver.ErrInvalidURL (code InvalidArgument); set other server
// settings with options=-c name=value. The password (in the userinfo or
// the password parameter) never appears in an error. Durations use Go
// syntax (250ms, 30s, 5m). The handles one URLOpener (mq's default mux
// has one) opens with the same connection string, the URL without
// portmq's parameters, share one pool (pool_max_conns connections, pgx's
// default max(4, CPUs)) and, per schema, one LISTEN connection; the pool
// closes with the last of them. A handle's statements wait for a pool
// connection when all are busy: raise pool_max_conns for many handles
// receiving at once.
//
// Every URL takes:
//
//   - schema: the PostgreSQL schema of portmq's tables, 1 to 40 bytes of
//     a-z, 0-9 and _. Default "portmq". It is created, with its objects,
//     on first use when missing (see Schema below).
//
// A producer URL names the topic:
//
//		postgres://HOST/DB?topic=NAME&dedup_window=5m
//
//	  - topic (required): the topic, created if absent.
//	  - dedup_window: when creating the topic, drop a message whose DedupID
//	    was sent within this window (producer-side dedup). Default 0 (none).
//	    Given for an existing topic with another window, the open fails
//	    with FailedPrecondition.
//
// A subscription URL names the topic and the subscription:
//
//		postgres://HOST/DB?topic=NAME&subscription=NAME&visibility=30s&max_attempts=5&dead_letter=TOPIC&ordered=true&retention=24h&poll_interval=2s
//
//	  - topic, subscription (required): created if absent. A subscription
//	    belongs to its topic: the same name on another topic is another
//	    subscription.
//	  - visibility: the lease of this handle's deliveries. Default: the
//	    lease stored with the subscription (30s unless created otherwise).
//	  - max_attempts: deliveries after which a message is dead-lettered; 0
//	    (default) means never.
//	  - dead_letter: the topic dead letters go to. Default NAME.dlq when
//	    max_attempts is set, else none. A dead-letter topic without
//	    subscriptions gets one of its own name when the subscription is
//	    created, so dead letters are kept: read them at
//	    ?topic=NAME.dlq&subscription=NAME.dlq.
//	  - ordered: deliver the messages of one Key in send order, one at a
//	    time. Default false.
//	  - retention: keep acked messages this long, for Seek. Default 0
//	    (acked rows are deleted).
//	  - poll_interval: the longest an idle receive waits without a
//	    notification (at least 10ms). Default 2s.
//
// max_attempts, dead_letter, ordered and retention are stored with the
// subscription when it is created; given for an existing subscription
// with other values, the open fails with FailedPrecondition naming the
// setting.
//
// An admin URL (mq.OpenAdmin) takes only schema.
//
// # Schema
//
// [Schema] returns the DDL (idempotent, for migrations) and [Migrate] runs
// it under an advisory lock; handles run Migrate themselves when the schema
// is missing. Every object lives in the schema, so the schema name is the
// prefix of every object: tables topics, subscriptions, queue, dedup and
// claims, and the sequence claim_tokens. The LISTEN/NOTIFY channel is
// portmq_SCHEMA.
//
// # Fan-out: a copy per subscription
//
// A send inserts one queue row per message per subscription of the topic
// (INSERT ... SELECT from the subscriptions, in the sender's statement).
// The alternative, a shared log with a per-subscription cursor, stores a
// body once but needs per-subscription delivery state anyway for leases,
// attempts, nacks and out-of-order acks, a join on every receive, and a
// reference count to know when a message may be deleted. A copy per
// subscription keeps receive, ack, nack and dead-letter single-table,
// single-statement operations on rows no other subscription touches. The
// cost is paid at send, linearly in the subscriptions (measured with
// BenchmarkSendFanout, batches of 100 messages of 256 bytes, on the 2-core
// test machine, one run of 5000 messages each): 1 subscription 60 500
// msgs/s (17 µs per message), 10 subscriptions 11 200 msgs/s (90 µs per
// message, 9 µs per copy), 100 subscriptions 1 100 msgs/s (0.9 ms per
// message, 9 µs per copy). Receives and acks cost the same whatever the
// number of subscriptions. A topic with hundreds of
// subscriptions and large bodies is better served by a broker.
//
// # Semantics
//
// Every rule is native: the capabilities are all Native, and the
// conformance suite runs with no skip.
//
//   - Receive: UPDATE ... FROM (SELECT ... ORDER BY id LIMIT n FOR UPDATE
//     SKIP LOCKED) sets locked_until (the lease), adds one to attempts and
//     to leases (a fencing counter; an AckID carries the row id and it, so
//     a stale AckID cannot settle a later delivery). Concurrent receivers
//     never wait for each other. Messages come in send order per
//     subscription, except that delayed and nacked ones come when due.
//   - No busy polling: when nothing is ready, a receive waits for a
//     notification (every send, Nack(0) and Seek notifies the
//     subscription's id on the schema's channel, at commit for a
//     transactional send), for the next delayed row or lease end (read
//     from the table), or for poll_interval, whichever is first. The
//     subscription handles of one pool share one LISTEN connection
//     (outside the pool, open while a handle is), reconnecting after a
//     failure; a notification wakes one waiting receive of its
//     subscription, which wakes the next when it took a full batch or
//     did not use the wake (a receive that took a full batch without
//     waiting wakes nobody). A receive woken while it picked picks again
//     at once. A lost notification costs at most poll_interval.
//   - Extend: UPDATE locked_until. Ack: DELETE, or with retention UPDATE
//     acked_at. Both only while the lease runs: an expired AckID fails
//     with mq.ErrLeaseExpired.
//   - Nack(delay): locked_until cleared, available_at = now() + delay.
//     Send with Delay sets available_at likewise. Microsecond precision.
//   - Dead-letter: a Nack at max attempts moves the row to every
//     subscription of the dead-letter topic in the same statement, with
//     the metadata columns (reason, attempts, source) that receives turn
//     into the portmq- attributes. A lease that ends on the last attempt
//     (a crashed or shut-down consumer) is dead-lettered by the next idle
//     receive of the subscription, in one statement too; a message at max
//     attempts is never delivered again. Shutdown hands unsettled
//     deliveries back as a Nack(0) does.
//   - Ordering: an ordered subscription delivers a message only when no
//     older unsettled message of its key exists (NOT EXISTS on an index of
//     (subscription, key, id)): one in flight per key, in send order, with
//     no lock beyond the rows; a nacked or delayed message holds back its
//     key only.
//   - Dedup: the dedup table's primary key (topic, DedupID) decides within
//     the topic's window, in the send statement (INSERT ... ON CONFLICT DO
//     UPDATE ... WHERE sent_at is older than the window). A dropped
//     duplicate's Send succeeds; its ID is never delivered.
//   - Seek(t): acked (retained) and waiting rows published at or after t
//     become available again with attempts starting over.
//   - Round trip: bodies are bytea (up to MaxBodySize), attributes a
//     length-prefixed bytea (any UTF-8, NUL included), Key and DedupID
//     bytea. IDs are assigned by the driver, unique across processes.
//   - Errors: connection refused, reset, EOF, timeouts and SQLSTATE
//     classes 08 and 57 are Unavailable (retryable); 23505 AlreadyExists;
//     42P01 (undefined table), 3F000 (schema) and 3D000 (database)
//     NotFound; 42501 PermissionDenied; 28000/28P01 Unauthenticated;
//     40001/40P01/55P03 Unavailable; class 53 ResourceExhausted.
//
// # Faults
//
// A cut resets the pool's connections: the statement in progress fails
// Unavailable (retryable) and mq waits the outage out; pgxpool drops the
// broken connections and dials again on the next call. The LISTEN
// connection of each pool reconnects with backoff (100 ms
// steps up to poll_interval) and wakes the waiting receives once it
// listens again, since notifications sent meanwhile are lost. A server
// restart (or a backend killed with pg_terminate_backend) looks the same
// to the client; committed rows are durable. Leases are columns on the
// server and keep running through a fault, so a fault adds at most one
// attempt to a message: one handed out whose lease ends before it can be
// extended or settled, or one whose pick committed but whose reply was
// lost in the cut (leased to nobody until the lease ends); messages
// waiting in the table get none. A send whose commit reply was lost may
// have been stored; sending it again stores it twice unless it has a
// DedupID and the topic a dedup window. The conformance test cuts through
// conformance/faultproxy and "restarts" by terminating every server
// connection of the test run (the server is shared, so it is not
// restarted).
//
// # Cleanup and autovacuum
//
// Acked rows are deleted at once, or kept for retention and then deleted
// in batches of 1000 by idle receives (at most once per poll_interval per
// handle); expired dedup entries likewise, and expired claims by the
// store (at most once a minute). A queue table is a high-churn table:
// every message is inserted, updated at least once and deleted, so dead
// tuples accumulate as fast as messages flow, and a receive's index scan
// walks over them until vacuum removes them. The queue table is created
// with fillfactor 70 (room for HOT updates of the lease columns, which no
// index covers), autovacuum_vacuum_scale_factor and
// autovacuum_vacuum_insert_scale_factor 0.01 (vacuum after 1 % of the
// table changed rather than 20 %) and autovacuum_vacuum_cost_delay 0
// (vacuum it at full speed). Keep autovacuum on; make sure no
// long-running transaction (or an idle-in-transaction session, or a
// stale replication slot) holds back the xmin horizon, because then
// vacuum cannot remove anything and the table and its indexes bloat
// without bound; watch n_dead_tup in pg_stat_user_tables. Table bloat is
// then bounded by the rows that flow between two autovacuum runs.
//
// # Transactional send (outbox)
//
// [Send] (or [SendSchema]) inserts messages through a pgx.Tx: subscribers
// see them when the transaction commits, and never if it rolls back, so a
// message and the state change it announces cannot disagree. To reach a
// broker, forward an outbox subscription with mq.Forward, which acks each
// message only after the destination confirmed it:
//
//	outbox, _ := mq.OpenSubscription(ctx, "postgres://app@db/shop?topic=outbox&subscription=relay")
//	kafka, _ := mq.OpenProducer(ctx, "kafka://broker:9092/orders")
//	n, err := mq.Forward(ctx, outbox, kafka) // runs until ctx ends
//
// Give messages a DedupID so that a copy forwarded twice (a crash between
// the destination's confirmation and the ack) can be dropped by the
// destination or the consumer's idempotency store.
//
// # Exactly-once effects
//
// An [IdempotencyStore] keeps claims in the claims table: Claim inserts
// the key with a fencing token from a sequence and an expiry, or takes it
// over when expired; Complete and Release act only on the row with that
// token, else fail with mq.ErrClaimLost; done keys are kept for the
// store's retention. [TxHandler] runs the handler in a transaction that
// also completes the Consumer's claim ([IdempotencyStore.CompleteIn]) and,
// when the message comes from a postgres subscription on the same
// database, acks it: the effect, the "done" mark and the ack commit
// together or not at all. The failure cases:
//
//   - crash after commit, before the broker's ack: the message is
//     delivered again, its key is done, the Consumer acks it without
//     running the handler (TestCrashAfterCommitBeforeAckSkipsRedelivery);
//   - crash before commit: the transaction rolls back; the claim expires
//     after its ttl and the redelivery runs the handler
//     (TestCrashBeforeCommitIsRetried);
//   - handler error: rolled back, the claim released, the message nacked
//     with backoff and retried (TestHandlerErrorRollsBackAndRetries);
//   - two consumers with copies of one key: the second waits while the
//     first holds the claim, then finds it done
//     (TestTwoConsumersRacingOnOneKey);
//   - a claim that expired while the handler ran (another process took
//     the key): CompleteIn fails, the transaction rolls back, nothing is
//     written twice.
//
// # As
//
// Producer.As, Subscription.As and Admin.As set a **pgxpool.Pool to the
// pool the handle runs on, and a *Querier. Delivery.As sets a **Row (where
// the message's row is). ErrorAs converts to *pgconn.PgError,
// *pgconn.ConnectError and net.Error.
package postgres
