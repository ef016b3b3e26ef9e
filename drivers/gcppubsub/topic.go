package gcppubsub

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/portmq/portmq/mq/driver"
)

// Pub/Sub's resource limits (https://cloud.google.com/pubsub/quotas).
const (
	maxMessageBytes  = 10_000_000 // data, attributes and ordering key
	maxAttrKeyBytes  = 256
	maxAttrValBytes  = 1024
	maxOrderingBytes = 1024
	// maxBatch bounds Publish (1000 messages), Pull (max_messages) and the
	// ack IDs of one Acknowledge or ModifyAckDeadline request.
	maxBatch = 1000
	// maxBodySize leaves room within maxMessageBytes for the attributes,
	// key and dedup ID the contract allows.
	maxBodySize = maxMessageBytes - 64<<10
)

// Attributes the driver adds on send and removes on receive.
const (
	// attrDedupID carries Message.DedupID (Pub/Sub has no such field).
	attrDedupID = driver.AttrPrefix + "dedup-id"
	// attrEmpty marks a message with neither data nor attributes, which
	// Pub/Sub refuses.
	attrEmpty = driver.AttrPrefix + "empty"
)

// TopicOptions configure a topic handle. The zero value (or nil) means
// defaults.
type TopicOptions struct {
	// PublishSettings replaces pubsub.DefaultPublishSettings (batching
	// delay, count and size, timeout, flow control). HedgingSettings must be
	// nil: the publisher has message ordering enabled. The URL parameter
	// batch_delay sets DelayThreshold.
	PublishSettings *pubsub.PublishSettings
}

// topic is the driver.Topic of one topic, sending through one
// *pubsub.Publisher with message ordering enabled.
type topic struct {
	client  *pubsub.Client
	pub     *pubsub.Publisher
	name    string
	release func() // gives back the pooled client; nil if not pooled

	closed  atomic.Bool
	resumes sync.WaitGroup // ResumePublish watchers of abandoned sends
	native
}

var _ driver.Topic = (*topic)(nil)

// OpenTopic returns a driver.Topic that publishes to topic (an ID in the
// client's project, or projects/P/topics/T) through client, which the
// caller keeps and closes after closing the topic. Wrap it with
// mq.NewProducer. The topic is not looked up: publishing to a missing topic
// fails with code NotFound.
func OpenTopic(client *pubsub.Client, topic string, opts *TopicOptions) (driver.Topic, error) {
	if client == nil {
		return nil, invalid("OpenTopic: nil client")
	}
	name, err := resolveName(client.Project(), kindTopic, topic)
	if err != nil {
		return nil, err
	}
	return newTopic(client, name, opts, nil)
}

func newTopic(client *pubsub.Client, name string, opts *TopicOptions, release func()) (*topic, error) {
	pub := client.Publisher(name)
	if opts != nil && opts.PublishSettings != nil {
		if opts.PublishSettings.HedgingSettings != nil {
			return nil, invalid("PublishSettings.HedgingSettings must be nil: the publisher orders messages by key")
		}
		pub.PublishSettings = *opts.PublishSettings
	}
	pub.EnableMessageOrdering = true
	return &topic{client: client, pub: pub, name: name, release: release}, nil
}

// SendBatch implements driver.Topic. It checks every message against
// Pub/Sub's limits before publishing any, publishes them all through the
// batching publisher and waits for the server's acknowledgement of each.
// After a failed publish with an ordering key it resumes the key, so a
// failure never blocks the key for later sends.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.closed.Load() {
		return errTopicClosed
	}
	for i := range msgs {
		if err := checkMessage(&msgs[i]); err != nil {
			return err
		}
	}
	var one [1]*pubsub.PublishResult
	results := one[:0]
	if len(msgs) > 1 {
		results = make([]*pubsub.PublishResult, 0, len(msgs))
	}
	for i := range msgs {
		results = append(results, t.pub.Publish(ctx, toPubsub(&msgs[i])))
	}
	var errs []error
	for i, r := range results {
		id, err := r.Get(ctx)
		if err == nil {
			msgs[i].ID = id
			continue
		}
		if key := msgs[i].Key; key != "" {
			t.resumeAfter(r, key)
		}
		errs = driver.SetItemError(errs, len(msgs), i, wrap(err, "publish to %s", t.name))
	}
	return driver.BatchResult(errs)
}

// resumeAfter resumes publishing on key once r failed. The publisher
// pauses a key after a failed publish so that later messages do not
// overtake it; the caller learns of the failure and decides whether to
// send again, so the key must not stay paused. When the caller stopped
// waiting before r was done, a goroutine (which Close waits for) resumes
// the key once r fails.
func (t *topic) resumeAfter(r *pubsub.PublishResult, key string) {
	select {
	case <-r.Ready():
		if _, err := r.Get(context.Background()); err != nil {
			t.pub.ResumePublish(key)
		}
		return
	default:
	}
	t.resumes.Go(func() {
		<-r.Ready() // Close stops the publisher, which settles every result
		if _, err := r.Get(context.Background()); err != nil {
			t.pub.ResumePublish(key)
		}
	})
}

// toPubsub converts m without copying its body; the attribute map is
// copied only when the driver adds to it.
func toPubsub(m *driver.Message) *pubsub.Message {
	attrs := m.Attributes
	if m.DedupID != "" || (len(m.Body) == 0 && len(attrs) == 0) {
		attrs = make(map[string]string, len(m.Attributes)+1)
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		if m.DedupID != "" {
			attrs[attrDedupID] = m.DedupID
		} else {
			attrs[attrEmpty] = "1"
		}
	}
	return &pubsub.Message{Data: m.Body, Attributes: attrs, OrderingKey: m.Key}
}

// checkMessage checks m against the Pub/Sub limits that are tighter than
// the contract's (mq has checked the contract's own).
func checkMessage(m *driver.Message) error {
	size := len(m.Body) + len(m.Key) + len(m.DedupID) + len(attrDedupID)
	if len(m.Key) > maxOrderingBytes {
		return invalid("ordering key of %d bytes exceeds Pub/Sub's %d", len(m.Key), maxOrderingBytes)
	}
	for k, v := range m.Attributes {
		switch {
		case len(k) > maxAttrKeyBytes:
			return invalid("attribute key %s exceeds Pub/Sub's %d bytes", strconv.Quote(k), maxAttrKeyBytes)
		case len(v) > maxAttrValBytes:
			return invalid("value of attribute %s has %d bytes; Pub/Sub takes at most %d", strconv.Quote(k), len(v), maxAttrValBytes)
		case strings.HasPrefix(strings.ToLower(k), "goog"):
			return invalid("attribute key %s: Pub/Sub reserves keys starting with \"goog\"", strconv.Quote(k))
		}
		size += len(k) + len(v)
	}
	if size > maxMessageBytes {
		return invalid("message of %d bytes (body, attributes and key) exceeds Pub/Sub's %d", size, maxMessageBytes)
	}
	return nil
}

// Capabilities implements driver.Topic.
func (t *topic) Capabilities() driver.Capabilities { return baseCaps() }

// baseCaps is what every handle of this driver declares; subscriptions
// adjust attempts, dead-lettering and seek to their configuration.
func baseCaps() driver.Capabilities {
	return driver.Capabilities{
		Lease:       driver.Native,
		NackDelay:   driver.Native,
		Attempts:    driver.Native,
		DeadLetter:  driver.Native,
		Dedup:       driver.None,
		Ordering:    driver.Native,
		Delay:       driver.None,
		Seek:        driver.Native,
		MaxBodySize: maxBodySize,
		MaxBatch:    maxBatch,
		MaxDelay:    maxAckDeadline,
		MinLease:    time.Second,
		MaxLease:    maxAckDeadline,
		Granularity: time.Second,
	}
}

// As implements driver.Common: **pubsub.Publisher and **pubsub.Client.
func (t *topic) As(i any) bool {
	if p, ok := i.(**pubsub.Publisher); ok && p != nil {
		*p = t.pub
		return true
	}
	return asClient(i, t.client)
}

// Close flushes and stops the publisher and gives back the client.
func (t *topic) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return errTopicClosed
	}
	t.pub.Stop()
	t.resumes.Wait()
	if t.release != nil {
		t.release()
	}
	return nil
}
