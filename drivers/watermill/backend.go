package watermill

import (
	"context"
	"net/url"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Prefix starts every portmq scheme this package registers: the portmq URL
// watermill+NAME://TOPIC runs the Watermill backend registered as NAME.
const Prefix = "watermill+"

// Backend makes the Watermill Publisher and Subscriber behind portmq
// handles of one URL scheme. Watermill has no URL opener, so a program
// registers each backend it uses with Register (or NewOpener), giving the
// constructors of that backend's Pub/Sub.
type Backend struct {
	// NewPublisher returns the Publisher of a producer handle (and of a
	// subscription's dead-letter topic). The driver closes it when the
	// handle is closed. Required.
	NewPublisher func(ctx context.Context, r Request) (message.Publisher, error)
	// NewSubscriber returns the Subscriber of a subscription handle, whose
	// consumer group is r.Subscription: handles of one group must share
	// its messages (compete), and every group must get every message. The
	// driver calls Subscribe on it (again after its channel closed
	// unexpectedly) and closes it when the handle is closed. Required.
	NewSubscriber func(ctx context.Context, r Request) (message.Subscriber, error)
	// Params are the URL query parameters the backend takes, passed in
	// Request.Query; any other parameter that is not portmq's is refused.
	Params []string
	// MaxBodySize is the largest payload the backend takes, in bytes; 0
	// means no limit.
	MaxBodySize int
	// ErrorCode, if set, classifies the backend's errors (for example its
	// client's connection errors as driver.Unavailable). Errors it returns
	// Unknown for are classified as the driver does by default: context
	// errors, *driver.Error codes and network errors (Unavailable).
	ErrorCode func(error) driver.ErrorCode
}

// Request is what a Backend is asked for.
type Request struct {
	// Topic is the Watermill topic: the URL's host and path.
	Topic string
	// Subscription is the consumer group of a subscription handle (the
	// URL's subscription parameter); empty for a publisher.
	Subscription string
	// Query holds the URL's parameters listed in Backend.Params.
	Query url.Values
	// User is the URL's user info, if any: credentials for the backend.
	// Never put it in an error.
	User *url.Userinfo
}

var (
	regMu    sync.Mutex
	backends = map[string]bool{}
)

// Register makes the Watermill backend b available as watermill+name on
// mq's default mux. Like mq.Register it panics, at init, on a name
// registered twice, an empty name, or a Backend without its constructors.
func Register(name string, b Backend) {
	name = strings.ToLower(name)
	regMu.Lock()
	defer regMu.Unlock()
	if backends[name] {
		panic("watermill: Register called twice for backend " + name)
	}
	o := NewOpener(b) // panics on a bad backend
	if name == "" {
		panic("watermill: Register with an empty name")
	}
	backends[name] = true
	mq.Register(Prefix+name, o)
}

// NewOpener returns a driver.Opener that opens URLs of any scheme with b,
// to register on an mq.URLMux of your own. It panics if b lacks
// NewPublisher or NewSubscriber.
func NewOpener(b Backend) driver.Opener {
	if b.NewPublisher == nil || b.NewSubscriber == nil {
		panic("watermill: a Backend needs NewPublisher and NewSubscriber")
	}
	return &opener{b: b}
}

type opener struct {
	b Backend
}

// OpenTopic opens the producer handle of watermill+NAME://TOPIC.
func (o *opener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	tu, err := parseURL(u, o.b, false)
	if err != nil {
		return nil, err
	}
	pub, err := o.b.NewPublisher(ctx, tu.req)
	if err != nil {
		return nil, openError(o.b, "publisher", tu.req.Topic, err)
	}
	return newTopic(pub, tu.req.Topic, tu.maxBody, o.b), nil
}

// OpenSubscription opens the subscription handle of
// watermill+NAME://TOPIC?subscription=GROUP.
func (o *opener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	su, err := parseURL(u, o.b, true)
	if err != nil {
		return nil, err
	}
	sub, err := o.b.NewSubscriber(ctx, su.req)
	if err != nil {
		return nil, openError(o.b, "subscriber", su.req.Topic, err)
	}
	s := newSubscription(sub, su.req.Topic, &SubscriptionOptions{Name: su.req.Subscription, Lease: su.lease}, o.b)
	if su.deadLetter != "" {
		s.info.HasDeadLetter = true
		dl := su.req
		dl.Topic, dl.Subscription = su.deadLetter, ""
		s.openDLQ = func(ctx context.Context) (driver.Topic, error) {
			pub, err := o.b.NewPublisher(ctx, dl)
			if err != nil {
				return nil, openError(o.b, "dead-letter publisher", dl.Topic, err)
			}
			return newTopic(pub, dl.Topic, su.maxBody, o.b), nil
		}
	}
	if err := s.subscribe(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// openError gives an open error a code, as driver.Opener asks.
func openError(b Backend, what, topic string, err error) error {
	return &driver.Error{Code: classify(b, err), Msg: "watermill: opening the " + what + " of topic " + topic, Err: err}
}
