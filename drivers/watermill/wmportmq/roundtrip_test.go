package wmportmq_test

import (
	"testing"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"

	"github.com/portmq/portmq/drivers/watermill"
)

// loopGoChannel backs watermill+wmloop://, Watermill's GoChannel behind
// portmq (package drivers/watermill); TestMain closes it.
var loopGoChannel = gochannel.NewGoChannel(gochannel.Config{}, wm.NopLogger{})

func init() { watermill.Register("wmloop", watermill.GoChannel(loopGoChannel)) }

// TestWatermillSuiteOverPortmqOverGoChannel runs Watermill's suite through
// both adapters at once: Watermill's API, over portmq (this package), over
// Watermill's GoChannel (drivers/watermill). Features as over memdriver
// (see memFeatures); Persistent holds because drivers/watermill keeps each
// subscription's GoChannel Subscribe for the process, so messages wait
// there while no Subscriber reads.
func TestWatermillSuiteOverPortmqOverGoChannel(t *testing.T) {
	mk := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		return pair(t, "watermill+wmloop://{topic}", "watermill+wmloop://{topic}?subscription={group}", group)
	}
	tests.TestPubSub(t, memFeatures,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return mk(t, "") },
		mk,
	)
}
