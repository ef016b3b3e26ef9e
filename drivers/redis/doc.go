// Package redis is the portmq driver for Redis Streams (Redis 6.2 or
// later; tested against 7.0), and the home of [IdempotencyStore], an
// mq.IdempotencyStore that holds across every process using one Redis.
//
// A topic is a stream; a subscription is a consumer group on it. Every
// group gets every entry added after it was created (fan-out), and the
// consumers of one group share them (competition): each handle of a
// subscription is a consumer of its own in the group. A group lives on its
// stream, so the same subscription name on another topic is another
// group, never the same one.
//
// Import it for its side effect of registering the redis and rediss
// schemes:
//
//	import _ "github.com/portmq/portmq/drivers/redis"
//
// or use the plain constructors [OpenTopic], [OpenSubscription] and
// [NewAdmin] with a *goredis.Client (github.com/redis/go-redis/v9) and
// *Options, bypassing URLs. Those handles do not close the client.
//
// # URLs
//
//	redis://[USER:PASSWORD@]HOST[:PORT][/DB]?topic=T                  a topic (producer)
//	redis://[USER:PASSWORD@]HOST[:PORT][/DB]?topic=T&subscription=S   a subscription
//	redis://[USER:PASSWORD@]HOST[:PORT][/DB]                          an admin
//
// rediss:// is the same over TLS (the system roots and the host name,
// unless URLOpener.TLSConfig says otherwise). The userinfo is the ACL user
// and password (redis://:PASSWORD@HOST for the default user); the
// password never appears in an error or a log. PORT
// defaults to 6379 and DB (the logical database number) to 0. Handles
// opened through one URLOpener with the same server, credentials and
// database share one go-redis client. The topic's stream and the
// subscription's group must exist: create them with an Admin
// (mq.OpenAdmin, or portmq admin in the CLI); opening a missing one fails
// with NotFound.
//
// Parameters of every URL:
//
//   - prefix: the start of every key the driver uses (default "portmq"):
//     the topic T is the stream PREFIX:T. Topic, subscription and prefix
//     names are 1 to 200 bytes of UTF-8 without ':', '{', '}' or control
//     characters.
//   - dial_timeout: a duration such as 5s (default 5s).
//
// Parameters of a topic URL:
//
//   - topic: the topic (required).
//   - dedup: a duration; a message whose DedupID was sent to the topic
//     within it is dropped (its Send succeeds and returns the first
//     message's ID). Default: the window the Admin stored with
//     TopicConfig.DedupWindow, else none.
//   - maxlen: trim the stream to about that many entries on every send
//     (XADD MAXLEN ~). Default: no trimming.
//   - retention: a duration; trim entries older than it on every send
//     (XADD MINID ~). At most one of maxlen and retention.
//
// Parameters of a subscription URL (each defaults to what the Admin
// stored with the subscription, then to the default given):
//
//   - topic, subscription: the topic and the subscription (required).
//   - lease: a duration, at least 1ms (default 30s).
//   - max_attempts: deliveries after which a message is dead-lettered
//     (default: never; an explicit 0 means never). It needs dead_letter.
//   - dead_letter: the topic dead letters go to.
//   - ordered: true delivers messages with the same Key in send order,
//     one in flight per key (also when the Admin stored the subscription
//     as ordered).
//
// Any other parameter is an error (InvalidArgument).
//
// # Keys
//
// For topic T, subscription S and prefix P: the stream P:T; the
// subscription's retry stream P:T:retry:S and delay set P:T:delay:S; the
// topic's delay set P:T:delay (delayed sends); dedup keys P:T:dedup:ID;
// the stored settings P:T:sub:S (hash) and P:T:meta; on an ordered
// subscription the key owners P:T:owners:S and P:T:owners:S:ids (hashes,
// key to message and back) and one park list
// P:T:park:S:KEY per waiting key. An entry's fields are b (body), k (Key),
// d (DedupID) and a.NAME (attribute NAME); copies of an entry (see below)
// also carry i (the message ID, the stream ID of the first entry), t (the
// publish time in Unix ms) and n (the attempts already made). The driver
// runs on one Redis node (no Cluster): its scripts touch keys of two
// topics at once (a subscription's and its dead-letter topic's).
//
// Connections: the handles of one client share its pool for commands
// (sends, acks, the reaper and delay loops). A blocking read holds its
// connection while it waits, so each subscription handle dials
// connections of its own for them, one per receive waiting in Redis at
// once (up to 1024), kept for reuse (up to 8) and closed with the handle:
// plan the server's maxclients for the receives your processes keep
// waiting, plus the pools.
//
// # Semantics
//
// Each rule of the contract, and how it is met. "Driver" means the
// driver builds it on Redis's own structures, atomically in Lua scripts,
// so that it holds across processes and crashes; nothing is kept only in
// a process's memory.
//
//   - Send (native): XADD, pipelined per batch; Send returns once Redis
//     has the entry. Durability is the server's: with AOF (appendfsync
//     always or everysec) an acknowledged send survives a restart, within
//     the fsync policy; without persistence (the test server here: --save
//     "" --appendonly no) a restart of Redis loses everything, streams,
//     groups, pending entries and idempotency keys, and handles opening
//     afterwards get NotFound until an Admin creates the topic again. Use
//     persistence, or treat Redis as a cache of messages you can resend.
//     The driver's tests run the restart cases of the conformance suite
//     on a redis-server of their own with appendfsync always, and the
//     network cuts through a fault proxy on the shared server.
//   - Lease (driver): Redis records, per pending entry (PEL), when it was
//     last delivered. One reaper per subscription per process (shared by
//     all the process's handles of it on one go-redis client, as URL
//     handles of one URLOpener are; not one per Receive) runs every
//     quarter lease (10 ms to 5 s) a script that XAUTOCLAIMs the entries
//     idle for a lease and moves each to the subscription's retry stream
//     with its attempts, atomically with the XACK of the original. So a
//     delivery comes back between one and about 1.25 leases after it was
//     last delivered or extended, to whichever consumer reads next, in any
//     process. Every process reaps with the lease its handles were opened
//     with: give all handles of a subscription the same (the Admin's
//     stored lease does). Extend is XCLAIM to the same consumer with JUSTID (no
//     delivery counted) and IDLE set so that the lease ends the given time
//     from now; since Redis measures a lease from the last delivery, a
//     lease longer than the subscription's cannot be set
//     (Capabilities.MaxLease is the subscription's lease; mq extends again
//     before it ends). A handle's Close hands back what its consumer still
//     holds at once (each as an attempt); a crashed process's deliveries
//     come back after their lease.
//   - Attempts (driver): Redis's delivery count of the pending entry plus
//     the attempts a copy carries (field n). XREADGROUP's reply has no
//     delivery count on Redis 7.0, so a first read is attempt n+1; for a
//     reclaimed entry the reaper reads the count with XPENDING.
//   - Nack with delay (driver): one script XACKs the entry and adds its
//     copy, with n = the attempts made, to the subscription's delay set, a
//     sorted set scored by the due time (the server's clock, in whole
//     milliseconds: Capabilities.Granularity is 1 ms); a mover loop
//     (one per delay set per process) moves due copies into the retry
//     stream with one script, sleeping until the earliest due time (at
//     most 2 s, so that entries other processes add are not missed; it is
//     woken at once by this process's nacks): no busy polling. Nack(0)
//     puts the copy straight into the retry stream. The copy goes to the
//     subscription's own retry stream, which every consumer of the group
//     reads with the topic stream in the same XREADGROUP, and not into the
//     topic stream, where every other subscription would get it again.
//     This is Redis itself, not the process: unlike watermill-redisstream,
//     whose Nack resends in the process, a nacked message survives the
//     consumer's crash and is counted.
//   - Dead-letter (driver): at max attempts a nack, a lease expiry (the
//     reaper), or a handle's Close XADDs the entry to the dead-letter
//     topic's stream, with its body, attributes, Key and DedupID and the
//     attributes portmq-dead-letter-reason, portmq-attempts and
//     portmq-source (TOPIC/SUBSCRIPTION), in the same script as the XACK.
//     Delivery.DeadLetter does it at once. max_attempts without
//     dead_letter is refused: Redis has no place of its own to put them.
//   - Dedup (driver): a message with a DedupID on a topic with a dedup
//     window runs one script: SET P:T:dedup:ID NX PX window, and the XADD
//     only if the key was new (its value is the first message's ID).
//   - Ordering (driver): on an ordered subscription a hash records, per
//     Key, the message in flight. After each read one script admits the
//     entries whose key is free (or held by the same message: a
//     redelivery) and parks the others, XACKing them and appending their
//     copies to the key's park list; the Ack (or dead-letter) of the key's
//     message moves the next parked copy to the retry stream and hands it
//     the key. A nacked message keeps its key, so it blocks its key only.
//     Cost: one script per read with keyed entries, one per ack; see
//     BenchmarkOrdering. Messages without a Key are not ordered.
//   - Delay (driver): a message with a Delay goes to the topic's delay
//     set (scored by the server's clock) with a generated ID ("d-" and 16
//     hex digits) and moves into the topic stream when due, by the mover of
//     any process that has the topic or one of its subscriptions open.
//   - Seek (native): XGROUP SETID to just before the time, so that every
//     entry of the topic stream added since is delivered again (attempts
//     start over: Redis resets the delivery count of a re-read entry).
//     Entries trimmed away, and copies in the retry stream, are not
//     replayed.
//   - Trimming: maxlen and retention trim the stream on every send,
//     acknowledged or not: Redis does not know which entries every group
//     has acked. An entry trimmed while pending is reported as deleted by
//     XAUTOCLAIM and found missing by a nack; the driver counts each
//     ([Subscription.Lost]) and logs it at Error level: the message is
//     lost (on an ordered subscription its key passes to the next
//     message). Size the trimming for your slowest subscription.
//
// Why Streams and not Redis Pub/Sub: PUBLISH delivers to the subscribers
// connected at that moment and forgets the message; nothing acks it, a
// subscriber that is down or slow (its output buffer full) loses it, and
// nothing can redeliver or count attempts. It is at-most-once, and this
// driver does not offer it as a subscription. A user who wants
// fire-and-forget can use this driver and ack at once (the cost is the
// stream's memory: trim it with maxlen or retention), or use go-redis's
// PUBLISH/SUBSCRIBE directly, knowing what it does not promise.
//
// # Faults
//
// A network cut or a Redis restart: go-redis dials again on the next
// command; a blocking read whose connection broke fails (Unavailable) and
// the next read takes a new connection; mq waits out Unavailable errors
// for sends and receives whose context outlasts the outage, and the
// reaper and delay loops retry with backoff. A send whose reply the cut
// lost may have been applied: XADD is not idempotent, so the message may
// be there twice (unless it has a DedupID on a topic with a dedup
// window). Leases live in Redis (the pending-entry list), not in the
// connection, so a delivery held through a fault gains an attempt only if
// its lease ends meanwhile; one waiting in the stream gains none. A
// restart without persistence loses everything (see Send above); with an
// append-only file fsynced on every write it loses nothing acknowledged
// (TestConformanceRestart).
//
// # Errors
//
// Connection loss, refused dials, EOF, timeouts (driver.NetworkCode), a
// pool timeout and the server's LOADING, BUSY, MASTERDOWN, READONLY, TRYAGAIN and MISCONF
// replies are Unavailable (retryable; mq waits them out); NOGROUP and a
// missing stream are NotFound, BUSYGROUP AlreadyExists, WRONGTYPE
// FailedPrecondition, NOAUTH and WRONGPASS Unauthenticated, NOPERM
// PermissionDenied, OOM and "max number of clients" ResourceExhausted. A
// script missing from the server's cache (NOSCRIPT, after a restart or
// SCRIPT FLUSH) is sent again with EVAL. Settling a delivery whose lease
// ended and which the reaper moved fails with mq.ErrLeaseExpired.
//
// # Backlog
//
// Subscription.Backlog counts the entries of the topic stream the group
// has not read (XINFO GROUPS lag), the copies waiting in the retry stream
// and the nacked messages in the delay set; deliveries in flight are not
// counted.
//
// # As
//
// Producer.As, Subscription.As and Admin.As accept **goredis.Client and
// *goredis.UniversalClient, and Subscription.As also **redis.Subscription
// (the driver's handle, for [Subscription.Lost]); Delivery.As accepts
// **goredis.XMessage (the entry as read). ErrorAs accepts *goredis.Error
// (a server reply), *net.Error and **net.OpError.
//
// Memory: the XMessage of a delivery is part of its read's reply, so a
// Delivery kept after it was settled keeps the whole reply (up to a
// prefetch of entries, bodies included) from being collected, not only its
// own message. Keep what you need of a delivery (its Body, ID, Key), not
// the Delivery.
//
// # Idempotency store
//
// [NewIdempotencyStore] returns an mq.IdempotencyStore: a claim is SET
// KEY c:TOKEN NX PX ttl (in a script that also reports done and busy
// keys), Complete turns it into d:TOKEN for the retention and Release
// deletes it, both in scripts that act only while the key holds the
// caller's token, so a holder whose claim expired and was taken by
// another process cannot complete or release the newer claim (it gets
// mq.ErrClaimLost). Give the Consumers of one subscription, in every
// process, stores with the same prefix.
package redis
