package mq

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Observing. mq reports what its handles do to an Observer: sends,
// receives, settlements, lease events and the Consumer's handler runs.
// Package otelmq implements one with OpenTelemetry traces and metrics; mq
// itself depends on no telemetry library. A handle without an Observer
// pays one nil check per operation.
//
// Install one for every handle opened afterwards with SetDefaultObserver,
// or per handle with WithProducerObserver and WithSubscriptionObserver.
// Observers must be safe for concurrent use and must not block: they run
// on the caller's goroutine, inside Send, Receive and the settling calls.

// Observer creates the observers of individual handles. It is asked once
// per handle, when the handle opens, so that it can precompute what is
// the same for every operation of the handle (attribute sets, metric
// instruments). Returning nil leaves the handle unobserved.
type Observer interface {
	ObserveProducer(info HandleInfo) ProducerObserver
	ObserveSubscription(info HandleInfo) SubscriptionObserver
}

// HandleInfo describes a handle to its observer.
type HandleInfo struct {
	// System is the URL scheme the handle was opened with ("mem", "amqp",
	// "kafka", ...), or "" for a handle made with NewProducer or
	// NewSubscription without WithSystem.
	System string
	// Destination is the topic's name (or the queue's, where a queue is
	// its own topic).
	Destination string
	// Subscription is the subscription's name; "" for producers.
	Subscription string
	// Capabilities are the backend's, as the driver declares them; what
	// is not Has() is emulated by mq.
	Capabilities Capabilities
	// MaxAttempts is the subscription's; 0 for producers.
	MaxAttempts int
	// Backlog, for subscriptions whose backend can tell, reports how many
	// messages wait (see Subscription.Backlog); nil otherwise.
	Backlog func(ctx context.Context) (int64, error)
}

// ProducerObserver observes one Producer.
type ProducerObserver interface {
	// StartSend is called once per Send or SendBatch, after validation and
	// before anything is sent. It returns the context the send runs in
	// (carrying a span, say), attributes to add to every message of the
	// call (trace context: see below), and a function mq calls once the
	// send returned, with its error (nil, a *BatchError, or another error).
	//
	// The attributes are added to what the backend carries, not to the
	// caller's Message.Attributes; a key the message sets already is left
	// as the message has it. mq may keep the map: return a new one for
	// every call. They come on top of the MaxAttributes the
	// message may have, so keep them few (otelmq adds traceparent and, when
	// set, tracestate).
	//
	// mq calls the returned function exactly once. msgs, and the Messages
	// it holds, are valid until that function returns: an observer must
	// not keep them past it (for Send they are a copy mq reuses).
	StartSend(ctx context.Context, msgs MessageList) (context.Context, map[string]string, func(error))
}

// MessageList is the messages of one send: one for Send, several for
// SendBatch. It is a value, so that observing a Send allocates nothing.
type MessageList struct {
	one  *Message
	many []*Message
}

// Len returns how many messages the list holds.
func (l MessageList) Len() int {
	if l.many != nil {
		return len(l.many)
	}
	if l.one != nil {
		return 1
	}
	return 0
}

// At returns message i.
func (l MessageList) At(i int) *Message {
	if l.many != nil {
		return l.many[i]
	}
	return l.one
}

// DeliveryList is the deliveries one Receive or ReceiveBatch returned.
type DeliveryList struct {
	one  *Delivery
	many []*Delivery
}

// Len returns how many deliveries the list holds.
func (l DeliveryList) Len() int {
	if l.many != nil {
		return len(l.many)
	}
	if l.one != nil {
		return 1
	}
	return 0
}

// At returns delivery i.
func (l DeliveryList) At(i int) *Delivery {
	if l.many != nil {
		return l.many[i]
	}
	return l.one
}

// SubscriptionObserver observes one Subscription and the Consumers over it.
type SubscriptionObserver interface {
	// Received is called when a Receive or ReceiveBatch returns, with when
	// it started, the deliveries it returned and its error.
	Received(ctx context.Context, start time.Time, ds DeliveryList, err error)
	// Settled is called when a settling call on d returned (Ack, Nack,
	// DeadLetter, Extend), and when mq saw d's lease end unsettled.
	Settled(d *Delivery, s Settlement)
	// StartProcess is called by a Consumer before its handler runs d. It
	// returns the handler's context and a function the Consumer calls when
	// it has settled d.
	StartProcess(ctx context.Context, d *Delivery) (context.Context, func(ProcessResult))
}

// HandleCloser may be implemented by a ProducerObserver or a
// SubscriptionObserver: mq calls HandleClosed once when the handle's
// Shutdown is done, so that the observer can release what it registered
// for the handle (a backlog gauge, say).
type HandleCloser interface {
	HandleClosed()
}

func closeObserver(o any) {
	if c, ok := o.(HandleCloser); ok {
		c.HandleClosed()
	}
}

// SettleOp says what happened to a delivery.
type SettleOp uint8

const (
	SettleAck SettleOp = iota + 1
	SettleNack
	SettleDeadLetter
	SettleExtend
	// SettleExpired: the lease ended before the delivery was settled (seen
	// by mq where it keeps the lease; on other backends a settling call then
	// fails with ErrLeaseExpired).
	SettleExpired
)

var settleNames = [...]string{SettleAck: "ack", SettleNack: "nack", SettleDeadLetter: "dead_letter", SettleExtend: "extend", SettleExpired: "expire"}

func (o SettleOp) String() string {
	if int(o) < len(settleNames) && settleNames[o] != "" {
		return settleNames[o]
	}
	return "SettleOp(?)"
}

// Settlement is one settling call's outcome.
type Settlement struct {
	Op SettleOp
	// Delay is the nack delay, or the new lease of an Extend.
	Delay time.Duration
	// Reason is the dead-letter reason.
	Reason string
	// Err is the call's error.
	Err error
	// Emulated reports that mq did it on top of the backend (a held nack
	// delay, a dead letter republished by mq, a lease kept by mq).
	Emulated bool
	// Start is when the call began.
	Start time.Time
}

// Outcome is what a Consumer did with a delivery after its handler.
type Outcome uint8

const (
	OutcomeAcked        Outcome = iota + 1 // the handler succeeded
	OutcomeRetried                         // nacked with NextDelay
	OutcomeDeadLettered                    // permanent error or max attempts
	OutcomeDuplicate                       // the idempotency store had the key: acked, handler not run
	OutcomeHandedBack                      // stopping, or the claim was busy: nacked at once
)

var outcomeNames = [...]string{OutcomeAcked: "acked", OutcomeRetried: "retried", OutcomeDeadLettered: "dead_lettered", OutcomeDuplicate: "duplicate", OutcomeHandedBack: "handed_back"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && outcomeNames[o] != "" {
		return outcomeNames[o]
	}
	return "Outcome(?)"
}

// ProcessResult is the end of one handler run.
type ProcessResult struct {
	// Err is the handler's error (nil when it succeeded or did not run).
	Err     error
	Outcome Outcome
	// NextDelay is the backoff before the retry, for OutcomeRetried.
	NextDelay time.Duration
}

var defaultObserver atomic.Pointer[Observer]

// SetDefaultObserver installs o for every handle opened after the call
// without an observer option of its own; nil removes it.
func SetDefaultObserver(o Observer) {
	if o == nil {
		defaultObserver.Store(nil)
		return
	}
	defaultObserver.Store(&o)
}

func defaultObs() Observer {
	if p := defaultObserver.Load(); p != nil {
		return *p
	}
	return nil
}

// destinationOf names a URL's topic for observers: the topic parameter
// where the URL has one, else the path's last part after a host:port (a
// broker list) or the host (mem://TOPIC/SUB, sqs://QUEUE), with the
// Pub/Sub and Go CDK forms handled.
func destinationOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	if t := u.Query().Get("topic"); t != "" {
		return t
	}
	path := strings.Trim(u.Path, "/")
	switch {
	case u.Host == "projects": // gcppubsub://projects/P/topics/T
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			return path[i+1:]
		}
		return path
	case strings.Contains(u.Host, ":") || u.Host == "":
		if i := strings.IndexByte(path, '/'); i >= 0 {
			return path[:i]
		}
		return path
	}
	return u.Host
}
