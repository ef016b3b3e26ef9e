// Package conformance is portmq's executable contract: a suite of cases, one
// or more per rule of the contract (durable send, at-least-once, ack, nack
// with delay, extend, dead-letter, idempotency, ordering, fan-out and
// competition, delay, replay, round trip, shutdown, errors, reconnect), that
// every driver runs against its backend. The cases go through the
// user-facing types of package mq (Producer, Subscription, Delivery,
// Consumer), never the driver interface, so they check what applications
// get, including mq's emulation of what a backend lacks.
//
// # Running the suite
//
// A driver's test calls [Run] with a [Harness]:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			Name:      "rabbitmq",
//			Provision: provision, // creates a topic and subscriptions, returns their URLs
//			Lease:     10 * time.Second,
//		})
//	}
//
// Each case becomes a subtest named for the behaviour it checks, for example
// TestConformance/NackWithDelayIsNotRedeliveredEarly; [Cases] lists them
// with their rule and a one-sentence description. [Check] runs the same
// cases without package testing and returns a [Report]; the CLI command
// `portmq conformance URL` (cmd/portmq) runs it against a live backend,
// provisioning each case through the driver's admin under a name prefix.
//
// Cases run one after another. Each case asks the harness for fresh
// resources through Provision, with a [Spec] naming what it needs (how many
// subscriptions, lease, max attempts and a dead-letter destination,
// ordering, a dedup window, retention) and a name no other case uses. The
// subscriptions must exist when Provision returns, so that they get every
// message the case sends. When the case ends, it shuts down every producer,
// subscription and consumer it opened, then calls Resources.Cleanup.
// Checking for leaked goroutines (go.uber.org/goleak in TestMain) is left
// to the driver's test, which knows its own background goroutines.
//
// # Harness
//
//   - Name names the backend in reports.
//   - Mux opens the URLs; nil means mq's default mux, where drivers
//     register from init.
//   - Provision creates the resources of one case and returns their URLs.
//   - Lease is the shortest lease (visibility timeout) the backend allows
//     in tests: 200 ms for the in-memory engine, perhaps 10 s for a real
//     broker.
//   - Granularity is the precision of the backend's delays; delay
//     assertions allow it. The coarser of it and the backend's
//     Capabilities.Granularity is used.
//   - Restart, if set, restarts the broker during the reconnect cases.
//   - Cut, if set, cuts the network between the driver and its server:
//     every connection reset at once and new ones refused for a while.
//     Package faultproxy is a loopback TCP proxy whose CutContext method
//     is one; point the URLs Provision returns at its address.
//   - MaxBody caps the largest body of the round-trip case (default: the
//     backend's Capabilities.MaxBodySize, at most 1 MiB).
//   - Wrap, if set, runs each case for Run, for example in a
//     testing/synctest bubble (see Fake time).
//
// # Durations
//
// Every wait derives from Harness.Lease (L), so that one suite fits both
// an in-memory engine and a broker whose leases are measured in seconds:
//
//   - Most cases provision subscriptions with lease L.
//   - Something that must happen (a delivery, a redelivery after the lease,
//     a dead letter) is awaited for up to 5L + 2 s.
//   - Something that must not happen (a redelivery after Ack, an early
//     delivery of a delayed message) is watched for a bounded window,
//     usually 2L plus the granularity, by receiving with a deadline; the
//     suite never sleeps in the hope that something happened.
//   - Delays under test are 2L; "promptly" means well within a lease
//     (cases that test promptness provision a 10L lease and expect the
//     message within 3L).
//
// With L = 200 ms the whole suite runs in well under a minute of real
// time.
//
// # Fake time
//
// A backend that lives in the process (memdriver, or a fake server in
// memory) can run the suite under fake time: set Harness.Wrap to
// synctest.Test, so that Run runs each case, Provision and Cleanup
// included, in a testing/synctest bubble, and have Provision create the
// backend's state inside it (a fresh memdriver Engine per case: a
// channel or timer made in one bubble, or outside any, cannot be used in
// another). In a bubble every clock the case, mq and the backend read is
// package time's, and it jumps ahead whenever every goroutine waits, so
// leases, delays, backoffs and context deadlines pass in no real time:
// the mem harness of this package's own tests runs the whole suite in
// about 0.1 s instead of 18 s. The suite uses synctest, not an injected
// clock.Clock, because a Clock governs only what portmq times itself: the
// cases wait with context deadlines, and a Consumer's handler contexts
// and mq's receives honour them, so only a fake package time makes all of
// it fake at once. A backend on a network server cannot run in a bubble
// (its time is the server's); its harness leaves Wrap nil.
//
// # Capabilities and skips
//
// A case opens its handles and reads their Capabilities and Info before it
// asserts anything. What mq emulates on top of a backend (lease keeping,
// nack delays, delayed delivery, dead-lettering) is tested, not skipped,
// because applications rely on it either way. A case is skipped only when
// its rule is impossible on the backend, and the skip message names the
// capability: seek none (replay), dedup none (producer-side dedup; the
// consumer-side idempotency case still runs), ordering none, dead-letter
// and attempts both none (nothing can count attempts). The reconnect case
// is skipped when the harness has no Restart, the cut cases when it has no
// Cut, and the case that runs a Consumer through faults when it has
// neither.
//
// # Faults
//
// Rule 15 has five cases. ConsumerSurvivesBrokerRestart restarts the
// broker between two rounds of sends. The cut cases reset every
// connection mid-operation, for 2L (at least 500 ms): a Send issued in the
// cut whose context outlasts it must succeed after it; a Send whose
// context ends inside the cut must fail with a retryable error
// (mq.IsRetryable); a Receive blocked across the cut must return the
// message sent after it; and a Consumer running through a cut and a
// restart (whichever the harness has) must handle every acknowledged send,
// dead-letter nothing whose handler never failed (max attempts 3), and see
// at most one more attempt per fault on any message. Provision must honour
// Spec.SubscriptionName for the rule 9 case that reuses a subscription
// name on another topic. A Harness whose Provision
// ignores a Spec (for example returns an unordered subscription for an
// ordered Spec) fails the case rather than skipping it.
//
// A harness may skip a case for a limit of its test server rather than of
// the backend (a fake that crashes on replay, say) with Harness.Skip, which
// maps the case's name to the reason reported with the skip.
//
// Provision may build whatever topology gives the Spec: a backend whose
// queue is its own single subscription (SQS) can put a fan-out topic (SNS)
// in front of Spec.Subscriptions queues and return each queue's URL.
package conformance
