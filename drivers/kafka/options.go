package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Mode says how a subscription consumes its topic.
type Mode uint8

const (
	// GroupMode consumes with a classic consumer group: the driver tracks
	// every delivery and commits a partition's offset once every earlier
	// message of the partition is settled. It works on every Kafka.
	GroupMode Mode = iota
	// ShareMode consumes with a share group (KIP-932, Kafka 4.x): the
	// broker hands out records one by one under acquisition locks and
	// counts deliveries.
	ShareMode
)

func (m Mode) String() string {
	if m == ShareMode {
		return "share"
	}
	return "group"
}

// Start says where a subscription that has never consumed a partition
// starts reading it.
type Start uint8

const (
	// StartLatest starts at the end of the partition as it is when the
	// subscription is first opened (or provisioned): the subscription gets
	// every message sent after it exists.
	StartLatest Start = iota
	// StartEarliest starts at the oldest retained message.
	StartEarliest
)

// TopicOptions configures a topic handle opened with [OpenTopic]. A nil
// *TopicOptions means the defaults.
type TopicOptions struct {
	// MaxBodySize is the largest body Send accepts. Zero means the
	// smaller of the client's ProducerBatchMaxBytes and the topic's
	// max.message.bytes, less 140000 bytes kept for the key, 32 attributes
	// and portmq's headers.
	MaxBodySize int
}

// SubscriptionOptions configures a subscription handle opened with
// [OpenSubscription]. A nil *SubscriptionOptions means the defaults; the
// zero value of every field is its default.
type SubscriptionOptions struct {
	// Mode is GroupMode (default) or ShareMode.
	Mode Mode
	// Lease is the lease of a delivery, kept by package mq (default 30s).
	Lease time.Duration
	// MaxAttempts is the number of deliveries after which a message that
	// fails again is dead-lettered; 0 means never. In ShareMode it must be
	// below the group's share.delivery.count.limit.
	MaxAttempts int
	// DeadLetterTopic is where dead letters go (default
	// "TOPIC.dlq.SUBSCRIPTION"). It is created on first use if absent.
	DeadLetterTopic string
	// RetryTopic carries nacked and delayed messages of an unordered
	// subscription (default "TOPIC.retry.SUBSCRIPTION"). It is created
	// when the subscription is opened if absent.
	RetryTopic string
	// Ordered delivers the messages of one Key in send order, one in
	// flight per key (GroupMode only).
	Ordered bool
	// Start says where a never-consumed partition starts (default
	// StartLatest).
	Start Start
	// CommitInterval is how often settled offsets are committed (default
	// 1s). Offsets are also committed when partitions are revoked and
	// when the handle closes.
	CommitInterval time.Duration
	// IdleLeave is how long a handle that nobody receives from and that
	// holds no unsettled delivery stays in the group before it leaves,
	// handing its partitions (GroupMode) or its fetched records
	// (ShareMode) to the other handles (default 2s).
	IdleLeave time.Duration
	// RevokeWait bounds how long a handle whose partitions are revoked
	// waits for their unsettled deliveries before committing and letting
	// go (default: the lease).
	RevokeWait time.Duration
	// MaxPollRecords: in GroupMode the handle fetches again once fewer
	// fetched records than this wait to be handed out (default 500); in
	// ShareMode it is the most records one fetch acquires (default 64).
	MaxPollRecords int
	// ClientOpts are added to the options of the consumer clients the
	// handle creates (after the base client's options and portmq's own),
	// for example kgo.SessionTimeout, kgo.HeartbeatInterval or
	// kgo.FetchMaxWait.
	ClientOpts []kgo.Opt
}

// AdminOptions configures an admin handle opened with [OpenAdmin]. A nil
// *AdminOptions means the defaults.
type AdminOptions struct {
	// Mode is the mode of the subscriptions CreateSubscription
	// provisions (default GroupMode).
	Mode Mode
	// Partitions is the partition count of created topics (default 3).
	Partitions int32
	// ReplicationFactor of created topics (default -1: the broker's
	// default.replication.factor).
	ReplicationFactor int16
	// Start says where a provisioned subscription starts (default
	// StartLatest: at the topic's end when it is provisioned).
	Start Start
}

// resolved holds a subscription's options with the defaults filled in.
type resolved struct {
	SubscriptionOptions
	sourceName string // TOPIC/SUBSCRIPTION
}

func resolveSubscription(topic, sub string, o *SubscriptionOptions) (resolved, error) {
	var r resolved
	if o != nil {
		r.SubscriptionOptions = *o
		r.ClientOpts = append([]kgo.Opt(nil), o.ClientOpts...)
	}
	if err := checkName("topic", topic); err != nil {
		return r, err
	}
	if err := checkGroup(sub); err != nil {
		return r, err
	}
	switch {
	case r.Mode > ShareMode:
		return r, invalid("unknown mode %d", r.Mode)
	case r.Start > StartEarliest:
		return r, invalid("unknown start %d", r.Start)
	case r.Lease < 0, r.CommitInterval < 0, r.IdleLeave < 0, r.RevokeWait < 0:
		return r, invalid("negative duration in SubscriptionOptions")
	case r.MaxAttempts < 0, r.MaxPollRecords < 0:
		return r, invalid("negative MaxAttempts or MaxPollRecords")
	case r.Ordered && r.Mode == ShareMode:
		return r, invalid("ordered subscriptions need GroupMode: a share group hands records out in no order")
	}
	if r.Lease == 0 {
		r.Lease = 30 * time.Second
	}
	if r.DeadLetterTopic == "" {
		r.DeadLetterTopic = topic + ".dlq." + sub
	}
	if r.RetryTopic == "" {
		r.RetryTopic = topic + ".retry." + sub
	}
	if err := checkName("dead-letter topic", r.DeadLetterTopic); err != nil {
		return r, err
	}
	if err := checkName("retry topic", r.RetryTopic); err != nil {
		return r, err
	}
	if r.RetryTopic == topic || r.DeadLetterTopic == topic || r.RetryTopic == r.DeadLetterTopic {
		return r, invalid("the topic, its retry topic and its dead-letter topic must differ")
	}
	if r.CommitInterval == 0 {
		r.CommitInterval = time.Second
	}
	if r.IdleLeave == 0 {
		r.IdleLeave = 2 * time.Second
	}
	if r.RevokeWait == 0 {
		r.RevokeWait = r.Lease
	}
	if r.MaxPollRecords == 0 {
		r.MaxPollRecords = 500
		if r.Mode == ShareMode {
			r.MaxPollRecords = 64
		}
	}
	r.sourceName = topic + "/" + sub
	return r, nil
}

// checkName checks a Kafka topic name: 1 to 249 bytes of a-z A-Z 0-9 . _ -.
func checkName(what, name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return invalid("%s name %q must be 1 to 249 bytes of a-z A-Z 0-9 . _ -", what, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid("%s name %q must be 1 to 249 bytes of a-z A-Z 0-9 . _ -", what, name)
		}
	}
	return nil
}

// checkGroup checks a subscription (group) name; it becomes part of topic
// names, so it obeys the same rule, less room for the topic.
func checkGroup(name string) error {
	return checkName("subscription", name)
}
