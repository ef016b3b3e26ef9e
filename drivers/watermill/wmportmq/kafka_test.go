package wmportmq_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/twmb/franz-go/pkg/kfake"

	_ "github.com/portmq/portmq/drivers/kafka"
	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	"github.com/portmq/portmq/mq"
)

// TestWatermillSuiteOverKafka runs Watermill's own Pub/Sub suite against
// the adapter over the Kafka driver, on kfake (a Kafka-protocol cluster in
// the process). Kafka topics must exist, so Provision creates each
// Watermill topic through portmq's Kafka admin. Features as over memdriver
// (see memFeatures): a consumer group's offsets start at the topic's end
// when its subscription is first opened (SubscribeInitialize), so it gets
// what is sent from then on; Persistent holds (the log keeps messages
// while no member reads).
func TestWatermillSuiteOverKafka(t *testing.T) {
	base, admin := startKafka(t)
	create := func(ctx context.Context, topic string) error { return admin.CreateTopic(ctx, topic, mq.TopicConfig{}) }
	mk := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		pub, err := wmportmq.NewPublisher(base+"{topic}", &wmportmq.PublisherConfig{Provision: create})
		if err != nil {
			t.Fatal(err)
		}
		// Consumer groups are named TOPIC.GROUP: Kafka's group names are
		// global to the cluster, and one group "watermill" for every
		// parallel case's topic would rebalance at each case's join, for
		// longer than the suite waits (the messages stay apart, see
		// TestConsumerGroupOnTwoTopicsOverKafka).
		sub, err := wmportmq.NewSubscriber(base+"{topic}?subscription={topic}.{group}&session_timeout=1s&heartbeat_interval=100ms&idle_leave=200ms", &wmportmq.SubscriberConfig{
			ConsumerGroup: group,
			Provision:     func(ctx context.Context, topic, _ string) error { return create(ctx, topic) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pub.Close(); _ = sub.Close() })
		return pub, sub
	}
	tests.TestPubSub(t, memFeatures,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return mk(t, "") },
		mk,
	)
}

// startKafka starts a kfake cluster for the test and returns its URL
// (kafka://ADDR/) and an admin on it, closed at the test's end (after its
// parallel subtests).
func startKafka(t *testing.T) (string, *mq.Admin) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	base := "kafka://" + c.ListenAddrs()[0] + "/"
	admin, err := mq.OpenAdmin(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return base, admin
}

// Over Kafka, whose group names are global to the cluster, a group named
// alone ({group}) on two topics must not merge them.
func TestConsumerGroupOnTwoTopicsOverKafka(t *testing.T) {
	base, admin := startKafka(t)
	prefix := name(t)
	for _, tp := range []string{prefix + "-a", prefix + "-b"} {
		if err := admin.CreateTopic(context.Background(), tp, mq.TopicConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	checkGroupOnTwoTopics(t, base+"{topic}", base+"{topic}?subscription={group}&session_timeout=1s&heartbeat_interval=100ms", prefix)
}
