// Package driver defines the service-provider interface (SPI) that portmq
// backends implement. Application code never imports it: it uses package mq,
// whose types wrap these interfaces and add all policy (retry, backoff, lease
// keeping, dead-letter and delay emulation, idempotency, batching of acks).
//
// # Mechanism, not policy
//
// A driver sends, receives, acknowledges and reports errors, in batches. It
// must not retry on its own beyond what its client library does for a single
// request, must not interpret failures, and must not call back into mq. What a
// backend cannot do natively is declared in [Capabilities]; mq emulates what
// it can on top and reports the rest as unsupported.
//
// # Where each policy lives
//
// Drivers do mechanism; each policy below has one implementation, which
// every driver that needs it uses (a row marked "left" is not there yet:
// the drivers named still keep their own).
//
//	policy                                 home
//	per-item results of a batch call       BatchResult, SetItemError, SubBatchResult (this package)
//	classifying errors                     Classifier: a driver's native mapping, then NetworkCode
//	                                       for context and network errors (mq falls back to it too)
//	parsing URL parameters                 ParseQuery, Query.IntIn, DurationIn, OneOf, Want;
//	                                       Query.TLS (tls_* parameters), Query.SASL (mechanism, user)
//	ErrorAs that translates nothing        ErrorAs (this package)
//	hiding a password in errors            Redacted, Redact; mq.Redact for URLs
//	copy to a retry destination, then ack, package redeliver: Carried (what a copy carries), Copy,
//	  carrying the attempt count           Move (copy confirmed, then ack; per-item results);
//	                                       Kafka and the Go CDK bridge (RabbitMQ's wait queues are native)
//	dead-letter copy attributes            redeliver.DeadLetter: mq's emulation (mq/deadletter.go),
//	                                       Kafka, RabbitMQ, SQS; memdriver builds its own (left)
//	max attempts                           mq (emulated dead-lettering); redeliver.Exhausted where the
//	                                       driver dead-letters
//	backoff between retries                mq.Backoff: mq's outage waits, the Consumer, Kafka's loops
//	time                                   package clock; mq takes one per handle, mux or Consumer,
//	                                       else the driver's (Clocked), else clock.Real
//	lease keeping                          mq: keeper.go (buffered), emulator.go (emulated leases),
//	                                       consumer_lease.go (running handlers); Kafka's share-lock
//	                                       renewal and Pub/Sub's ordering keys keep their own (left)
//	one message in flight per key          internal/keyhold: mq's Consumer, Kafka, RabbitMQ, memdriver;
//	                                       gcppubsub's sweep hands a key's held messages back to
//	                                       Pub/Sub instead of on (ordering.go says why it stays)
//	splitting ID calls by MaxBatch         mq: sends (producer.go), and every call taking IDs (Ack, Nack,
//	                                       Extend, DeadLetter) in chunks run concurrently (splitCall in
//	                                       mq/subscription.go); drivers split only what no mq call names
//	                                       (the hand-back at Close)
//	commit position of a partitioned log   internal/offsets: Window (ack in any order, commit the
//	                                       settled prefix), Restart (a crashed reader's deliveries); Kafka
//	due times and timers                   internal/heapq: mq's emulator, memdriver, Kafka, clock.Fake
//
// # Concurrency
//
// Every method of every interface here may be called from many goroutines at
// once, except Close, which mq calls exactly once after all other calls have
// returned.
//
// # Errors
//
// Methods return the backend's native errors (wrapped or not); mq classifies
// them with ErrorCode and exposes them with ErrorAs. A driver must not put
// credentials in any error text.
package driver

import (
	"context"
	"net/url"
	"time"
)

// Message is one message as it crosses the SPI, in both directions.
//
// On send, mq fills Body, Attributes, Key, DedupID and Delay; the driver must
// set ID once the broker has accepted the message. On receive, the driver
// fills every field it can; AckID is required, and so are Attempt where
// Capabilities.Attempts is not None (0 otherwise) and Deadline where the
// lease is native.
//
// Drivers must not retain Body or Attributes of a sent message after
// SendBatch returns unless they copied them (or, for Attributes, the
// message has AttributesOwned); mq may reuse the Message slice.
type Message struct {
	// ID is the broker-assigned (or driver-assigned) message ID.
	ID string
	// Body is the payload, any bytes including none.
	Body []byte
	// Attributes are user metadata. Keys starting with "portmq-" carry
	// portmq's own metadata (dead-letter reason, emulated delay).
	Attributes map[string]string
	// AttributesOwned is set on a send when Attributes is a map mq made
	// for this message alone (to carry an observer's trace context) and
	// will not touch again: a driver that keeps Attributes after SendBatch
	// returns may keep this map rather than copy it. Otherwise Attributes
	// is the caller's, who may change it once Send returns.
	AttributesOwned bool
	// Key is the ordering key; empty means unordered.
	Key string
	// DedupID is the producer-side deduplication ID; empty means none.
	DedupID string
	// Delay asks that the message not be delivered before now+Delay. Only
	// set by mq when Capabilities.Delay is native.
	Delay time.Duration
	// PublishedAt is when the broker accepted the message (receive side).
	PublishedAt time.Time

	// AckID identifies this delivery for Ack, Nack, Extend and DeadLetter.
	AckID AckID
	// Attempt is the 1-based delivery attempt of this delivery. Drivers
	// whose Capabilities.Attempts is None set 0.
	Attempt int
	// Deadline is when the lease of this delivery ends, for drivers with a
	// native lease. Zero when the lease is emulated by mq.
	Deadline time.Time
	// Native is the one way to the native message (mq's Delivery.As): the
	// native message itself, such as a *kgo.Record, which Delivery.As(&p)
	// assigns to p when p's type can hold it; or, for a driver that hands
	// out several native forms, a value implementing NativeAs, which
	// Delivery.As asks. A pointer costs no allocation here, where a
	// closure per message would. It may be nil.
	Native any
}

// NativeAs is implemented by a Message.Native that chooses by itself what
// a Delivery.As target gets (for example a copy of the native message, or
// the native message of the backend a bridge wraps). NativeAs reports
// whether it set *target; it must return false for a nil or unsuitable
// target, and never panic.
type NativeAs interface {
	NativeAs(target any) bool
}

// AckID identifies one delivery to the driver that produced it. The driver
// chooses what goes in it: a pointer or handle in Ref (a pointer boxes
// without allocating; a string, a struct or a number above 255 allocates
// once per delivery, so a hot path points into a slice of the read
// instead) and a number in Seq (a delivery tag, a generation, an offset).
// mq treats it as opaque.
type AckID struct {
	Ref any
	Seq uint64
}

// Topic sends messages to one destination.
type Topic interface {
	// SendBatch must send every message and return only when the broker has
	// durably accepted all of them (publisher confirm, acks=all, HTTP 200).
	// It must set msgs[i].ID on success. If some messages failed and others
	// did not, it must return a *BatchError naming the failed indexes; any
	// other non-nil error means no message may be assumed sent. mq never
	// passes more than Capabilities.MaxBatch messages and has already
	// validated sizes and attribute counts against Capabilities.
	SendBatch(ctx context.Context, msgs []Message) error
	// Capabilities must return the same value on every call.
	Capabilities() Capabilities
	Common
}

// Extender is implemented by the subscriptions whose Capabilities.Lease
// is not None, and only by them: mq keeps the lease of every other
// driver's deliveries itself and never asks the driver to extend it.
// mq.NewSubscription refuses a native lease without it. A type that wraps
// a Subscription by embedding the interface must forward Extend (and
// the other optional interfaces it keeps: DeadLetterer, Seeker, ...).
type Extender interface {
	// Extend must set the lease of each delivery to end lease from now.
	// An unknown or expired AckID fails that item with
	// FailedPrecondition (a *BatchError when others succeeded).
	Extend(ctx context.Context, ids []AckID, lease time.Duration) error
}

// Subscription receives messages from one subscription (queue, consumer
// group) with per-delivery acknowledgement.
type Subscription interface {
	// ReceiveBatch must fill dst[:n] with up to len(dst) deliveries and
	// return n. It should block until at least one delivery is available or
	// ctx is done, without busy polling; returning 0 deliveries and a nil
	// error is allowed (mq calls again). On ctx end it must return ctx's
	// error. Every returned delivery is leased to the caller until it is
	// acked, nacked, dead-lettered or its lease ends.
	ReceiveBatch(ctx context.Context, dst []Message) (n int, err error)
	// Ack must settle the deliveries so that they are not delivered again.
	// Acking an unknown or expired AckID must return an error for that ID
	// (a *BatchError when others succeeded) whose ErrorCode is
	// FailedPrecondition.
	Ack(ctx context.Context, ids []AckID) error
	// Nack must make the deliveries available again no sooner than delay,
	// counting one more attempt; at the subscription's max attempts a
	// driver with native dead-lettering must dead-letter instead. delay is
	// 0 unless Capabilities.NackDelay is not None; mq emulates longer
	// delays than Capabilities.MaxDelay.
	Nack(ctx context.Context, ids []AckID, delay time.Duration) error
	// Info returns the subscription's settings. It must not block.
	Info() SubscriptionInfo
	// Capabilities must return the same value on every call.
	Capabilities() Capabilities
	Common
}

// Common is what every driver object has.
type Common interface {
	// As converts the driver's native client to i (a pointer to a native
	// type) and reports whether it could.
	As(i any) bool
	// ErrorAs converts err to a native error type and reports whether it
	// could.
	ErrorAs(err error, i any) bool
	// ErrorCode classifies an error returned by this driver. It must return
	// Unknown for errors it does not recognise.
	ErrorCode(err error) ErrorCode
	// Close releases resources. mq calls it once, after every other call on
	// the object has returned. Close must not wait for the broker longer
	// than needed to hand back unsettled deliveries.
	Close() error
}

// SubscriptionInfo describes a subscription's settings as the driver knows
// them. mq uses it for lease keeping and dead-letter emulation.
type SubscriptionInfo struct {
	// Name is a human-readable name, used in dead-letter metadata.
	Name string
	// Lease is the default lease (visibility timeout, ack deadline) of a
	// delivery. Zero means the driver's default of 30 s.
	Lease time.Duration
	// MaxAttempts is the number of deliveries after which a message is
	// dead-lettered; 0 means never.
	MaxAttempts int
	// Ordered is true when messages with the same Key are delivered in send
	// order, one in flight per key.
	Ordered bool
	// HasDeadLetter reports whether a dead-letter destination is
	// configured.
	HasDeadLetter bool
}

// Opener opens driver objects from URLs. A driver registers one per scheme
// with mq.Register. Openers must reject unknown query parameters with an
// error (ErrorCode InvalidArgument is inferred by mq for errors wrapping
// ErrInvalidURL) and must not include the URL's password, or any secret
// query value, in any error. An open error whose code is not
// InvalidArgument (a missing subscription, refused credentials, an
// unreachable broker) must be, or wrap, an *Error carrying that code: mq
// cannot ask an Opener to classify native errors.
type Opener interface {
	OpenTopic(ctx context.Context, u *url.URL) (Topic, error)
	OpenSubscription(ctx context.Context, u *url.URL) (Subscription, error)
}

// AdminOpener is implemented by Openers that can provision resources.
type AdminOpener interface {
	OpenAdmin(ctx context.Context, u *url.URL) (Admin, error)
}

// Admin provisions topics and subscriptions for development and tests.
type Admin interface {
	// CreateTopic must create the topic or return an error with code
	// AlreadyExists.
	CreateTopic(ctx context.Context, name string, cfg TopicConfig) error
	// CreateSubscription must create the subscription (and its dead-letter
	// destination if cfg names one the backend must create) or return an
	// error with code AlreadyExists; code NotFound if the topic is missing.
	CreateSubscription(ctx context.Context, topic, name string, cfg SubscriptionConfig) error
	// DeleteTopic and DeleteSubscription return code NotFound when absent.
	DeleteTopic(ctx context.Context, name string) error
	DeleteSubscription(ctx context.Context, topic, name string) error
	Common
}

// TopicConfig holds topic settings; zero values mean the driver's defaults.
type TopicConfig struct {
	// DedupWindow drops a message whose DedupID was sent within the window.
	DedupWindow time.Duration
}

// SubscriptionConfig holds subscription settings; zero values mean the
// driver's defaults.
type SubscriptionConfig struct {
	Lease       time.Duration
	MaxAttempts int
	// DeadLetterTopic names the topic dead letters go to.
	DeadLetterTopic string
	Ordered         bool
	// Retention keeps acked messages for Seek.
	Retention time.Duration
}

// Seeker is implemented by subscriptions that can replay.
type Seeker interface {
	// Seek must make every retained message published at or after t
	// available again (attempts start over).
	Seek(ctx context.Context, t time.Time) error
}

// DeadLetterer is implemented by subscriptions that dead-letter natively on
// request.
type DeadLetterer interface {
	// DeadLetter must move each delivery to the dead-letter destination with
	// its body, attributes and the metadata attributes named in this
	// package (AttrDeadLetterReason, ...), and settle it.
	DeadLetter(ctx context.Context, items []DeadLetter) error
}

// Backlogger is implemented by subscriptions whose backend can count the
// messages waiting in them.
type Backlogger interface {
	// Backlog must return how many messages wait to be delivered (or, for
	// a log, how far the subscription lags its end), as the backend counts
	// them; an estimate is fine.
	Backlog(ctx context.Context) (int64, error)
}

// DeadLetter is one request to DeadLetterer.
type DeadLetter struct {
	AckID  AckID
	Reason string
}

// DeadLetterTopicOpener is implemented by subscriptions whose dead-letter
// destination mq must feed itself (Capabilities.DeadLetter is None).
type DeadLetterTopicOpener interface {
	// OpenDeadLetterTopic returns the topic dead letters are sent to. mq
	// closes it.
	OpenDeadLetterTopic(ctx context.Context) (Topic, error)
}

// Metadata attribute keys portmq sets on dead-lettered messages and uses for
// emulation. Drivers that dead-letter natively must set the first three.
const (
	AttrPrefix           = "portmq-"
	AttrDeadLetterReason = "portmq-dead-letter-reason"
	AttrAttempts         = "portmq-attempts"
	AttrSource           = "portmq-source"
	// AttrNotBefore carries an emulated delivery time (RFC 3339 nano).
	AttrNotBefore = "portmq-not-before"
)
