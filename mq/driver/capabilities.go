package driver

import (
	"strconv"
	"strings"
	"time"
)

// Support says how a backend provides one rule of the contract.
type Support uint8

const (
	// None: the backend cannot do it. mq emulates it where the emulation is
	// listed on the Capabilities field; otherwise the operation returns an
	// error matching errors.ErrUnsupported.
	None Support = iota
	// Driver: the driver emulates it itself (for example RabbitMQ delayed
	// nacks through wait queues); mq treats it as native.
	Driver
	// Native: the broker does it.
	Native
)

func (s Support) String() string {
	switch s {
	case None:
		return "none"
	case Driver:
		return "driver"
	case Native:
		return "native"
	}
	return "Support(" + strconv.Itoa(int(s)) + ")"
}

// Has reports whether the driver provides the feature (natively or itself).
func (s Support) Has() bool { return s == Driver || s == Native }

// Capabilities declares what a driver does, so that mq can emulate the rest
// and the conformance suite can skip what is impossible with a reason.
type Capabilities struct {
	// Lease: deliveries not settled before their lease ends are redelivered,
	// and Extend pushes the lease. None → mq keeps the lease in the client
	// and nacks at its end.
	Lease Support
	// NackDelay: Nack with a delay. None → mq holds the delivery (extending
	// its lease) and nacks with no delay when it is due.
	NackDelay Support
	// Attempts: Message.Attempt counts deliveries across consumers and
	// crashes. None → mq cannot count and reports Attempt 1.
	Attempts Support
	// DeadLetter: after SubscriptionInfo.MaxAttempts failed deliveries the
	// broker moves the message to the dead-letter destination (Nack, lease
	// ends and crashes all count). None → mq dead-letters by republishing
	// through DeadLetterTopicOpener when it sees Attempt reach MaxAttempts.
	DeadLetter Support
	// Dedup: producer-side deduplication of DedupID within a window. None →
	// only the consumer-side idempotency store deduplicates.
	Dedup Support
	// Ordering: per-key ordering on ordered subscriptions. None → ordered
	// subscriptions are unavailable.
	Ordering Support
	// Delay: Message.Delay. None → mq carries the due time in the
	// AttrNotBefore attribute and holds the delivery until then.
	Delay Support
	// Seek: the subscription implements Seeker.
	Seek Support

	// MaxBodySize is the largest body in bytes; 0 means no limit.
	MaxBodySize int
	// MaxAttributes is the most attributes a message may carry; 0 means no
	// limit below the contract's 32.
	MaxAttributes int
	// MaxBatch is the most messages or IDs per call; 0 means no limit.
	MaxBatch int
	// MaxDelay is the longest Delay or Nack delay the driver takes
	// natively; 0 means no limit. mq emulates longer ones.
	MaxDelay time.Duration
	// MaxNackDelay, when not 0, is the longest Nack delay the driver takes
	// natively, where it differs from MaxDelay (SQS: Delay up to 15 min,
	// Nack delay up to 12 h). 0 means MaxDelay bounds both.
	MaxNackDelay time.Duration
	// MinLease and MaxLease bound Extend; 0 means no bound.
	MinLease, MaxLease time.Duration
	// Granularity is the precision of delays and leases (for example 1 s
	// on SQS); 0 means exact.
	Granularity time.Duration
}

// NackDelayLimit is the longest Nack delay the driver takes natively; 0
// means no limit.
func (c Capabilities) NackDelayLimit() time.Duration {
	if c.MaxNackDelay > 0 {
		return c.MaxNackDelay
	}
	return c.MaxDelay
}

// Features lists the rule names and their support, for tables.
func (c Capabilities) Features() []Feature {
	return []Feature{
		{"lease", c.Lease},
		{"nack-delay", c.NackDelay},
		{"attempts", c.Attempts},
		{"dead-letter", c.DeadLetter},
		{"dedup", c.Dedup},
		{"ordering", c.Ordering},
		{"delay", c.Delay},
		{"seek", c.Seek},
	}
}

// Feature is one row of a capability table.
type Feature struct {
	Name    string
	Support Support
}

func (c Capabilities) String() string {
	var b strings.Builder
	for i, f := range c.Features() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name)
		b.WriteByte('=')
		b.WriteString(f.Support.String())
	}
	return b.String()
}
