package wmportmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	_ "github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// rabbit reaches the test broker and deletes what a test created there.
type rabbit struct {
	base   string // the broker's URL, without a query
	prefix string // starts every topic of the run

	mu   sync.Mutex
	subs map[[2]string]bool // topic, queue
}

// newRabbit connects to the test broker, or ends the test (skip, or
// failure with PORTMQ_REQUIRE_SERVERS=1) when it is not running.
func newRabbit(t *testing.T) *rabbit {
	t.Helper()
	base := testenv.RabbitMQURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := mq.OpenAdmin(ctx, base)
	if err == nil {
		// Opening dials lazily on some drivers: make it talk to the broker.
		err = a.DeleteTopic(ctx, "wmportmq-probe-absent")
		if errors.Is(err, mq.ErrNotFound) {
			err = nil
		}
		_ = a.Close()
	}
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	r := &rabbit{base: base, prefix: "wmportmq-" + hex.EncodeToString(b[:]) + "-", subs: map[[2]string]bool{}}
	t.Cleanup(func() { r.deleteAll(t) })
	return r
}

// templates returns the publisher and subscriber URL templates. The queue
// is named TOPIC.GROUP: RabbitMQ's queue names are global to the vhost.
func (r *rabbit) templates() (pub, sub string) {
	return r.base + "?topic={topic}", r.base + "?topic={topic}&subscription={topic}.{group}"
}

// track records the queue of topic and group for deleteAll.
func (r *rabbit) track(topic, queue string) {
	r.mu.Lock()
	r.subs[[2]string{topic, queue}] = true
	r.mu.Unlock()
}

func (r *rabbit) deleteAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := mq.OpenAdmin(ctx, r.base)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer a.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	topics := map[string]bool{}
	for k := range r.subs {
		if err := a.DeleteSubscription(ctx, k[0], k[1]); err != nil && !errors.Is(err, mq.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
		topics[k[0]] = true
	}
	for tp := range topics {
		if err := a.DeleteTopic(ctx, tp); err != nil && !errors.Is(err, mq.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
	r.subs = map[[2]string]bool{}
}

// trackedSubscriber records the queues it opens.
type trackedSubscriber struct {
	*wmportmq.Subscriber
	r *rabbit
}

func (s trackedSubscriber) record(topic string) {
	u, err := url.Parse(s.URL(topic))
	if err == nil {
		s.r.track(topic, u.Query().Get("subscription"))
	}
}

func (s trackedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.record(topic)
	return s.Subscriber.Subscribe(ctx, topic)
}

func (s trackedSubscriber) SubscribeInitialize(topic string) error {
	s.record(topic)
	return s.Subscriber.SubscribeInitialize(topic)
}

// rabbitFeatures are Watermill's features of wmportmq over RabbitMQ: those
// over memdriver (see memFeatures for why each is set so), with these
// reasons where they differ:
//   - Persistent: topics are durable exchanges, subscriptions durable
//     quorum queues and messages persistent: they outlive every handle
//     (and the broker's restarts).
//   - RestartServiceCommand stays nil: the broker is shared with every
//     other package's tests. portmq's rabbitmq conformance run restarts
//     it, under the broker lock, and cuts the network through a fault
//     proxy.
var rabbitFeatures = memFeatures

// TestWatermillSuiteOverRabbitMQ runs Watermill's own Pub/Sub suite
// against the adapter over the RabbitMQ driver, on the test broker.
func TestWatermillSuiteOverRabbitMQ(t *testing.T) {
	r := newRabbit(t)
	f := rabbitFeatures
	f.GenerateTopicFunc = func(tc tests.TestContext) string { return r.prefix + string(tc.TestID) }
	pubURL, subURL := r.templates()
	mk := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		pub, sub := pair(t, pubURL, subURL, group)
		return pub, trackedSubscriber{sub.(*wmportmq.Subscriber), r}
	}
	tests.TestPubSub(t, f,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return mk(t, "") },
		mk,
	)
}

// Over RabbitMQ, whose queue names are global, a group named alone
// ({group}, not {topic}.{group}) on two topics must not merge them.
func TestConsumerGroupOnTwoTopicsOverRabbitMQ(t *testing.T) {
	r := newRabbit(t)
	prefix := r.prefix + "cg2"
	for _, tp := range []string{prefix + "-a", prefix + "-b"} {
		r.track(tp, prefix+"-billing")
	}
	checkGroupOnTwoTopics(t, r.base+"?topic={topic}", r.base+"?topic={topic}&subscription={group}", prefix)
}
