package wmportmq_test

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	_ "github.com/portmq/portmq/memdriver"
)

// pair returns a Publisher and a Subscriber of the given templates and
// consumer group, closed at the end of the test if the suite did not.
func pair(t *testing.T, pubURL, subURL, group string) (message.Publisher, message.Subscriber) {
	t.Helper()
	pub, err := wmportmq.NewPublisher(pubURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := wmportmq.NewSubscriber(subURL, &wmportmq.SubscriberConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pub.Close() // the suite closes most; Close twice is nil
		_ = sub.Close()
	})
	return pub, sub
}

// memFeatures are Watermill's features of wmportmq over memdriver, each
// set to what portmq's contract promises, not to what happens to pass.
var memFeatures = tests.Features{
	// Each consumer group is its own portmq subscription of the topic
	// (mem://TOPIC/GROUP): every group gets every message, and the
	// subscribers of one group compete for them.
	ConsumerGroups: true,
	// portmq is at-least-once: a message can come again (a lease that
	// ended, a subscriber closed before the ack reached the backend).
	ExactlyOnceDelivery: false,
	// portmq orders only the messages of one Key, on an ordered
	// subscription; the suite's messages have no key. (This also skips
	// TestNoAck, which reads "one message out at a time" as an ordering
	// property; TestOneMessageOutAtATime checks it.)
	GuaranteedOrder:                     false,
	GuaranteedOrderWithSingleSubscriber: false,
	// memdriver's default engine lives as long as the process: messages
	// outlive the Publisher and Subscriber that sent or left them, and a
	// subscription keeps them while no Subscriber reads it.
	Persistent: true,
	// Publishers and Subscribers are independent handles on the engine.
	RequireSingleInstance: false,
	// A subscription gets the messages sent after it exists; portmq
	// replays older ones only through Seek on a subscription with
	// retention, which Subscribe does not do.
	NewSubscriberReceivesOldMessages: false,
	// Nothing to restart: the engine is in the process. portmq's own
	// conformance suite covers reconnects on network backends.
	RestartServiceCommand: nil,
	// portmq does not carry a Go context across the backend: a received
	// message's context is the Subscriber's (canceled when the message is
	// settled or the Subscriber closes).
	ContextPreserved: false,
	// The full sizes (5000 to 10000 messages a test) run in seconds here
	// and in under a minute over RabbitMQ, with -race.
	ForceShort: false,
}

// TestWatermillSuiteOverMem runs Watermill's own Pub/Sub suite against the
// adapter over memdriver, full size.
func TestWatermillSuiteOverMem(t *testing.T) {
	tests.TestPubSub(t, memFeatures,
		func(t *testing.T) (message.Publisher, message.Subscriber) {
			return pair(t, "mem://{topic}", "mem://{topic}/{group}", "")
		},
		func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
			return pair(t, "mem://{topic}", "mem://{topic}/{group}", group)
		},
	)
}
