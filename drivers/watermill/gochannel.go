package watermill

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

func init() {
	Register("gochannel", GoChannel(nil))
}

// GoChannel returns a Backend over one Watermill gochannel.GoChannel (a
// new one with default config and no logging for nil), kept for the
// process: watermill+gochannel:// is registered with GoChannel(nil).
//
// A GoChannel has no consumer groups (every Subscribe gets every message)
// and keeps no message that no Subscribe waits for. So the backend makes
// each subscription (topic and subscription name) one Subscribe call on
// the GoChannel for the rest of the process, whose channel every handle
// of the subscription reads: the handles compete for its messages, each
// subscription gets every message sent after it was first opened, and
// messages wait in the GoChannel (one goroutine each) while no handle
// reads. Closing a handle leaves the subscription in place.
func GoChannel(g *gochannel.GoChannel) Backend {
	if g == nil {
		g = gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	}
	h := &hub{g: g, subs: map[[2]string]<-chan *message.Message{}}
	return Backend{
		NewPublisher: func(context.Context, Request) (message.Publisher, error) {
			return keptPublisher{g}, nil
		},
		NewSubscriber: func(_ context.Context, r Request) (message.Subscriber, error) {
			return &sharedSubscriber{h: h, group: r.Subscription}, nil
		},
	}
}

// hub holds the process's Subscribe channel of each subscription.
type hub struct {
	g    *gochannel.GoChannel
	mu   sync.Mutex
	subs map[[2]string]<-chan *message.Message
}

func (h *hub) channel(topic, group string) (<-chan *message.Message, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{topic, group}
	if ch, ok := h.subs[k]; ok {
		return ch, nil
	}
	// For the process: the GoChannel keeps what is sent to it only while
	// this Subscribe lasts.
	ch, err := h.g.Subscribe(context.Background(), topic)
	if err != nil {
		return nil, err
	}
	h.subs[k] = ch
	return ch, nil
}

// keptPublisher publishes to the process's GoChannel; Close leaves it
// open for the other handles.
type keptPublisher struct{ g *gochannel.GoChannel }

func (p keptPublisher) Publish(topic string, msgs ...*message.Message) error {
	return p.g.Publish(topic, msgs...)
}
func (keptPublisher) Close() error { return nil }

// sharedSubscriber hands out the subscription's process-wide channel.
// Subscribe's context does not end it (the subscription outlives the
// handle); the driver stops reading at Close.
type sharedSubscriber struct {
	h     *hub
	group string
}

func (s *sharedSubscriber) Subscribe(_ context.Context, topic string) (<-chan *message.Message, error) {
	return s.h.channel(topic, s.group)
}
func (*sharedSubscriber) Close() error { return nil }
