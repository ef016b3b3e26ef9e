// Package kafka is portmq's Kafka driver, on franz-go (kgo and kadm). It
// gives Kafka queue semantics: per-message ack, nack with a delay, leases,
// attempt counting, dead-lettering, per-key ordering, delayed delivery and
// replay, in two modes with one contract: a classic consumer group (every
// Kafka) or a share group (KIP-932, Kafka 4.x).
//
// Import it for its side effect to enable kafka:// URLs on mq's default
// mux:
//
//	import _ "github.com/portmq/portmq/drivers/kafka"
//
// or use the plain constructors [OpenTopic], [OpenSubscription] and
// [OpenAdmin] with a *kgo.Client of your own and wrap the result with
// mq.NewProducer, mq.NewSubscription or mq.NewAdmin.
//
// # URLs
//
// A URL names one or more brokers and a topic:
//
//	kafka://[USER[:PASSWORD]@]HOST:PORT[,HOST:PORT...]/TOPIC?PARAMETERS
//
// A broker without a port gets 9092 (Go's URL parser checks the text after
// the host list's last colon, so give a port to every broker or to none,
// or at least to the last one). Durations use Go syntax (500ms, 30s,
// 5m) and must be positive; booleans are true or false. Unknown, repeated
// or invalid parameters are errors wrapping driver.ErrInvalidURL (code
// InvalidArgument). Errors never contain the password.
//
// Every URL takes the connection parameters:
//
//   - client_id: the Kafka client ID.
//   - tls: true to connect with TLS (TLS 1.2 or later). tls_ca (a PEM file
//     of root certificates), tls_cert and tls_key (a client key pair, PEM
//     files), tls_server_name and tls_insecure_skip_verify need tls=true.
//   - sasl: plain (the default when the URL has a user), scram-sha-256 or
//     scram-sha-512; the user and password come from the URL's user info.
//
// A producer URL, kafka://HOST:PORT/TOPIC, also takes:
//
//   - linger: how long the producer waits to fill a batch (default 0:
//     records sent together, or while a request is in flight, batch
//     anyway).
//   - batch_max_bytes: the largest record batch (default 1000012).
//   - compression: none, gzip, snappy (default, falling back to none),
//     lz4 or zstd.
//   - max_body: the largest body accepted (default: the smaller of
//     batch_max_bytes and the topic's max.message.bytes, less 140000 bytes
//     kept for the key, attributes and portmq's headers).
//
// The topic must exist. Send returns once every in-sync replica has the
// record (acks=all) through kgo's idempotent producer, which keeps its own
// retries from duplicating; SendBatch hands all its records to the client
// at once, so they share produce requests. The message ID is
// "PARTITION-OFFSET".
//
// A subscription URL, kafka://HOST:PORT/TOPIC?subscription=NAME&..., takes:
//
//   - subscription (required): the consumer group, or share group, name.
//   - mode: group (default) or share.
//   - lease: the lease of a delivery (default 30s).
//   - max_attempts: deliveries after which a message that fails again is
//     dead-lettered (default 0: never).
//   - dead_letter: the dead-letter topic (default TOPIC.dlq.NAME), created
//     on first use.
//   - retry_topic: the retry topic of an unordered subscription (default
//     TOPIC.retry.NAME), created when the subscription opens.
//   - ordered: true for per-key ordering (group mode only).
//   - start: latest (default) or earliest: where a never-read partition
//     starts. With latest the group's offsets are set to the topic's end
//     when the subscription is first opened (or provisioned), so it gets
//     every message sent from then on.
//   - commit_interval: how often settled offsets are committed (default
//     1s; also on revocation and close).
//   - idle_leave: how long a handle nobody receives from, holding no
//     delivery, stays in the group (default 2s); see Semantics.
//   - revoke_wait: how long a handle losing partitions waits for their
//     deliveries to be settled (default: the lease).
//   - max_poll_records: group mode fetches again once fewer fetched
//     records than this wait to be handed out (default 500); share mode
//     acquires at most this many records per fetch (default 64).
//   - session_timeout, heartbeat_interval, rebalance_timeout,
//     fetch_max_wait: the kgo consumer settings of the same names.
//
// Kafka keeps no subscription settings, so lease, max_attempts, ordered
// and dead_letter must be the same in every URL of a subscription.
//
// An admin URL, kafka://HOST:PORT/ (no topic), takes mode (of the
// subscriptions it provisions), partitions (of created topics, default
// 3), replication (default -1, the broker's default) and start.
// CreateSubscription creates the retry and dead-letter topics and sets the
// group's starting offsets; it refuses a Lease, MaxAttempts or Ordered
// (they belong in the URL) and ignores Retention (the topic's
// retention.ms applies). CreateTopic refuses a DedupWindow.
// DeleteSubscription deletes the groups and the retry topic and keeps the
// dead-letter topic.
//
// # Semantics
//
// Kafka has no per-message ack, lease, delay or dead-letter queue. What
// the driver does, per mode (mq keeps the lease in both):
//
//	rule         group mode                              share mode
//	lease        mq (nack at its end)                    mq; the broker lock renewed meanwhile
//	nack(0)      copy to the retry topic                 release to the broker (native)
//	nack(delay)  copy to the retry topic, due time       copy to the retry topic, due time
//	attempts     driver (copy headers, commit metadata)  native (delivery count)
//	dead-letter  driver (copy to the DLQ topic)          driver (copy to the DLQ topic)
//	ordering     driver (key -> partition)               none
//	delay        driver (retry topic)                    driver (retry topic)
//	seek         native (offsets for a time)             none
//	dedup        none (use an mq idempotency store)      none
//
// Group mode. Each fetched record is tracked until it is settled; a
// partition's offset is committed (every commit_interval, on revocation
// and on close) only up to the first record not yet acked, nacked or
// dead-lettered, so a crash redelivers from there: at-least-once, with the
// duplicates an mq.Consumer with an idempotency store suppresses.
//
// Nack writes a copy of the message to the retry topic TOPIC.retry.NAME,
// which the subscription consumes in the same group, with headers
// carrying the original's ID and publish time, the deliveries made and
// the due time (portmq-id, portmq-published, portmq-delivered,
// portmq-due: package mq/driver/redeliver); once the copy is acknowledged
// by all in-sync replicas the original is settled and its offset can be
// committed (a crash in between delivers the message once more, never
// loses it; a copy that fails leaves the original with the handle). A record of the
// retry topic that is not due is held in memory, not delivered, and its
// partition is paused (pause/resume, no sleeping) when 1000 records of it
// wait; the scheduler delivers each at its due time (millisecond
// granularity). A message sent with Delay carries its due time in a
// header; a subscription that reads it early moves it to its retry topic.
// At max_attempts a failure, lease end or Shutdown hand-back writes the
// message to the dead-letter topic TOPIC.dlq.NAME instead, with the
// attributes portmq-dead-letter-reason, portmq-attempts, portmq-source
// (TOPIC/NAME) and portmq-source-topic, portmq-source-partition,
// portmq-source-offset (where the original record is). Attempts are
// counted across handles through the copies' headers. A handle that dies
// without Shutdown leaves its deliveries uncommitted: the next owner of
// the partition restarts at the committed offset. The record there is the
// one a crash loop keeps coming back to, so before a handle first hands
// it out it commits its delivery count in the offset commit's metadata
// ("portmq:OFFSET:COUNT"), and the next owner starts counting from there:
// a message that kills its consumer is dead-lettered after max_attempts
// crashes once it is the first unsettled record of its partition. Other
// records a dead handle had out come again with the attempt count they
// had. That commit costs one round trip before the first delivery of each
// partition a handle is assigned.
//
// Fetching: the handle takes each fetch the client buffered whole, so the
// client sends the next fetch request at once and the broker's answer is
// under way while the application works; it fetches again once fewer than
// max_poll_records fetched records wait to be handed out. A handle holds
// at most that many records, one fetch more in its queue and one buffered
// in the client; the client's kgo.FetchMaxBytes and
// kgo.FetchMaxPartitionBytes (franz-go's defaults: 50 MiB, and 1 MiB per
// partition) bound a fetch. A record's lease starts when it is handed
// out, not when it is fetched.
//
// Ordered subscriptions rely on Kafka's partitioning by key: a key's
// messages are in one partition, in send order. The driver hands out one
// message per key at a time; a nacked or delayed message stays in memory
// (not in the retry topic) and holds back its key, other keys flowing.
// The cost: a retried message holds the partition's committed offset
// back, so a crash meanwhile redelivers everything after it in that
// partition; attempt counts of retried messages are lost with the handle;
// and a partition is paused when 1000 of its messages wait behind keys.
//
// A consumer group assigns each partition to one member, and a member
// that is not receiving starves its partitions. So a handle joins the
// group on its first ReceiveBatch and leaves it when it has been idle
// (nobody in ReceiveBatch, no delivery out) for idle_leave, committing
// what is settled and giving back what it fetched but did not hand out;
// it joins again on the next ReceiveBatch. When partitions are revoked the
// handle stops handing them out, waits up to revoke_wait for their
// deliveries to be settled, commits and lets go; a delivery settled after
// that fails with ErrLeaseExpired and comes again from another member.
//
// Seek(t) lists, for each partition of the topic, the first offset whose
// timestamp is at or after t and moves the partitions this handle owns
// there (deliveries it handed out before can no longer be settled);
// a handle not in the group commits the offsets for the group, which
// fails with FailedPrecondition while other handles consume. The retry
// topic is not moved.
//
// Share mode. The broker acquires records for a member under an
// acquisition lock, counts deliveries (Attempt is the delivery count) and
// releases a record when its lock ends or its member goes away, so
// crashes count toward max_attempts. Ack accepts the record, Nack(0)
// releases it (flushing at once), a dead letter is copied to the
// dead-letter topic and rejected. Nack with a delay and delayed messages
// go through the retry topic, consumed in the consumer group NAME.retry
// (group mode, as above). franz-go accepts at the next poll every record
// of a poll that was not acknowledged, so a handle polls again only when
// every record of its last poll is settled: a slow delivery holds back
// the handle's next fetch (up to max_poll_records records are out at
// once). The driver renews the locks (AckRenew, KIP-1222) of records mq
// still holds at half the lock duration. The broker archives a record
// after group.share.delivery.count.limit deliveries (default 5, 2 to 10):
// max_attempts must be below it, or the subscription fails to open, so
// that the driver dead-letters first. Like a consumer group, a share group
// assigns each partition to some members only, so idle handles leave it
// too, releasing what they fetched. The share group gets
// share.auto.offset.reset=earliest; with start=latest a share group with
// no state starts at the topic's end (AlterShareGroupOffsets).
//
// # Limits
//
// Attributes travel as record headers (the 32 of the contract, UTF-8),
// the Key as the record key, and DedupID and portmq's own metadata as
// headers named portmq-*. MaxBodySize is described above; Capabilities
// report it. Delays and due times have millisecond granularity.
//
// # Faults
//
// A cut or a broker restart: franz-go keeps retrying the brokers;
// SendBatch returns when its context ends (DeadlineExceeded or Unavailable,
// both retryable; the records in flight may still be written), and mq
// waits the outage out for sends and receives whose context outlasts it.
// Fetches resume once a broker answers. A record held through the fault
// gains at most one attempt (its share lock or group assignment lapsed); a
// record acked just before the fault may come again if its offset commit
// was lost (commits are asynchronous, every commit_interval). Connection
// loss is Unavailable (franz-go's retriable errors, and driver.NetworkCode
// for the network's own).
//
// # As
//
// Producer.As and Subscription.As accept **kgo.Client (the client that
// sends; for subscriptions, the one that writes copies and admin
// requests); Subscription.As and Admin.As also accept **kadm.Client.
// Delivery.As accepts **kgo.Record. ErrorAs finds franz-go's errors, for
// example **kerr.Error.
package kafka
