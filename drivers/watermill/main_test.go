package watermill_test

import (
	"os"
	"testing"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/drivers/watermill"
)

// testGoChannel backs watermill+gctest://, the scheme the tests use: unlike
// the process-wide GoChannel of watermill+gochannel://, TestMain closes it,
// which ends the goroutines it keeps for subscriptions and waiting
// messages, before checking for leaks.
var testGoChannel = gochannel.NewGoChannel(gochannel.Config{}, wm.NopLogger{})

func init() { watermill.Register("gctest", watermill.GoChannel(testGoChannel)) }

func TestMain(m *testing.M) {
	code := m.Run()
	if err := testGoChannel.Close(); err != nil {
		println("closing the test GoChannel:", err.Error())
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			println("goleak: leaked goroutines:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}
