// Package memdriver is portmq's in-memory engine: every rule of the portmq
// contract native, deterministic under an injected clock, and fast. It is
// the reference the conformance suite is checked against, and the backend
// for local development and unit tests.
//
// Import it for its side effect to enable mem:// URLs on mq's default mux:
//
//	import _ "github.com/portmq/portmq/memdriver"
//
// or build an independent [Engine] with [New] and open handles on it
// directly, or register [Engine.Opener] under a scheme of your own on your
// own mq.URLMux.
//
// # URLs
//
// mem:// URLs use the process-wide engine returned by [Default]. Topic and
// subscription names are 1 to 255 bytes of A-Z a-z 0-9 . _ -. Durations use
// Go syntax (30s, 5m, 1h30m) and must not be negative; booleans are parsed
// with strconv.ParseBool. Unknown, repeated or invalid parameters are errors
// wrapping driver.ErrInvalidURL.
//
// A producer URL names a topic, which is created if absent:
//
//	mem://TOPIC?dedup_window=5m&max_body=1048576&emulate=delay
//
// Its parameters:
//
//   - dedup_window: a message whose non-empty DedupID was sent to the topic
//     within the window is dropped, and its ID is set to the original's.
//     Default 0 (off). A topic keeps the window it was first given; asking
//     for another one is an error with code FailedPrecondition.
//   - max_body: the largest body in bytes the handle accepts and reports in
//     its capabilities. Default 1048576 (1 MiB); 0 means no limit.
//   - emulate: "delay" (or "all") makes the handle report Delay as None;
//     the other emulate flags are accepted and do nothing on a producer,
//     so producer and subscription URLs can share a query.
//
// A subscription URL names a topic and a subscription, both created if
// absent:
//
//	mem://TOPIC/SUBSCRIPTION?visibility=30s&max_attempts=5&dead_letter=TOPIC2&ordered=true&retention=1h&emulate=lease
//
// Its parameters:
//
//   - visibility: the lease of a delivery. Default 30s.
//   - max_attempts: deliveries after which a message that fails again is
//     dead-lettered. Default 0 (never).
//   - dead_letter: the dead-letter topic. Default "TOPIC.SUBSCRIPTION.dlq"
//     when max_attempts is set, else none.
//   - ordered: deliver messages of one Key in send order, one in flight
//     per key. Default false.
//   - retention: keep acked messages this long for Seek. Default 0 (none).
//   - max_body: as for producers.
//   - emulate: a comma-separated list of lease, nack_delay, delay and
//     dead_letter, or all; see Emulation below. Default none.
//
// If the subscription exists, a setting given in the URL must equal its
// own, else the open fails with code FailedPrecondition naming the setting;
// settings left out are not compared.
//
// An admin URL is just mem:// (any host and path are ignored; no
// parameters).
//
// # Semantics
//
// Everything is native: lease with Extend, Nack with delay, attempt
// counting, dead-lettering (also on request, through driver.DeadLetterer),
// producer-side dedup, per-key ordering, Delay, and Seek with retention.
//
// A topic fans out: each message is appended to every subscription that
// exists when it is sent. A subscription is one queue: all handles opened
// on it compete, each message going to one of them. Bodies and attribute
// maps are copied on send and shared, read-only, by the subscriptions.
//
// A delivery not acked or nacked before its Deadline becomes available
// again, and each new delivery counts one more Attempt. Once a message was
// delivered max_attempts times, its next failure (Nack, lease end, or the
// handle closing) sends it to the dead-letter topic instead, with its body,
// attributes and key, a new ID, and the attributes portmq-dead-letter-reason,
// portmq-attempts and portmq-source (TOPIC/SUBSCRIPTION). A dead-letter
// topic without subscriptions gets one named "dlq" when the source
// subscription is created, so dead letters can be read at
// mem://DLQTOPIC/dlq.
//
// Ack, Nack, Extend and DeadLetter on a delivery that was settled already,
// whose lease ended, or that the subscription does not know, fail for that
// item with driver.ErrLeaseExpired (code FailedPrecondition); a batch with
// some such items returns a *driver.BatchError. A lease counts as ended
// once the subscription's timer has seen it end, which on a clock.Fake is
// exactly at its deadline (Advance fires the timer) and on clock.Real
// as soon as the runtime runs the timer; settling calls do not read the
// clock, which keeps them cheap. Closing a subscription
// handle returns its unsettled deliveries at once. Calls on a closed handle
// fail with code Closed; calls on a deleted subscription or topic with
// code NotFound.
//
// On an ordered subscription a nacked or expired message keeps its key
// blocked until it is acked or dead-lettered; other keys and messages
// without a key flow freely. Seek(t) makes every retained (acked) message
// published at or after t available again, with its attempts reset; it
// fails with code FailedPrecondition on a subscription without retention.
//
// # Memory
//
// A message takes its body and attribute copies plus about 220 bytes per
// subscription while it is queued, delayed, leased or retained. Once it is
// settled its entry drops the body and attributes and is kept for reuse
// only up to the subscription's recent high-water mark, tracked over
// epochs of 16384 settled messages: a backlog that comes back soon reuses
// its entries, and a drained one gives its memory back to the GC. After a
// backlog drains, a subscription keeps at most 32768 free entries (about
// 7 MB) until two epochs of traffic pass, then at most 256. Its ready
// queue, delay and lease heaps and retained list are reallocated smaller
// once under a quarter full (down to 1024 slots), and the keys map of an
// ordered subscription and the topic's dedup records are copied into
// smaller maps once three quarters of their peak were deleted. Dedup
// records live for the dedup window and are dropped by the first send to
// the topic after it ends. Draining a backlog of 1 M messages of 256 B
// leaves the heap within a few MB of its size before
// (TestSpikeLeavesNoFootprint).
//
// # Emulation
//
// So that package mq's emulation of missing features can be tested against
// a real engine, a handle can pretend to lack capabilities
// ([SubscriptionOptions.Emulate] or the emulate URL parameter). It reports
// them as driver.None and behaves like such a backend:
//
//   - lease: deliveries of the handle never expire; Extend does nothing;
//     Deadline is zero.
//   - nack_delay: Nack with a delay above zero fails with code Unsupported
//     (matching errors.ErrUnsupported); Nack(0) works.
//   - delay: only the capability changes; a Delay given is honoured.
//   - dead_letter: the subscription never dead-letters deliveries of the
//     handle by itself (they keep coming back with growing Attempt),
//     DeadLetter fails with code Unsupported, and OpenDeadLetterTopic
//     (driver.DeadLetterTopicOpener) returns the dead-letter topic for mq
//     to republish to.
//
// Emulation is per handle, not per subscription.
//
// # Clock
//
// All time in an Engine comes from its clock ([Options].Clock): a
// [clock.Real] by default, or a [clock.Fake]. With a Fake nothing happens
// until the test calls [clock.Fake.Advance], which fires due timers
// synchronously, so lease expiry, delays and dedup windows are tested
// without sleeping. The engine's handles expose the clock
// ([driver.Clocked]), so mq handles opened over them measure their own
// leases, holds and backoffs with it too: an Engine on a Fake opened
// through mq runs all of portmq on the fake time.
// Each subscription uses a single timer, armed for the earliest due delayed
// message or lease end; nothing polls.
//
// # Faults
//
// There is no network to cut: the engine lives in the process, and a
// process restart loses its messages (use a server-backed driver for
// durability across restarts). To test what a cut or a broker restart
// does to an application, wrap the engine's Opener so that its calls fail
// with an Unavailable *driver.Error for a while; mq then waits the outage
// out as it does on every driver (the conformance package's own tests do
// this to run the fault cases on mem).
//
// # As
//
// memdriver has no native client or error types. The As methods of every
// handle (and so mq's As) accept a **Engine and set it to the handle's
// engine; ErrorAs always reports false.
package memdriver
