package gocloud

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/rabbitpubsub"

	"github.com/portmq/portmq/mq/driver"
)

// release undoes an open: it shuts a Go CDK object down, or does nothing
// for a shared one.
type release func(ctx context.Context) error

func noRelease(context.Context) error { return nil }

// conns opens the Go CDK topics and subscriptions of one portmq handle
// (its own, and a subscription's retry and dead-letter topics) and
// releases them with it.
//
// Three ways, by scheme:
//   - mem (shared): mempubsub keeps topics for the process and a
//     subscription exists only inside its handle, so topics are never shut
//     down and subscriptions are kept, one per topic and name, for the
//     process (see sharedSubs).
//   - rabbit on the Go CDK's default mux: the Go CDK's rabbit driver never
//     closes its AMQP channels (its Close methods do nothing), so the
//     deliveries it fetched ahead would stay unacknowledged on the shared
//     default connection for the life of the process. conns dials an
//     AMQP connection of its own from RABBIT_SERVER_URL, as the Go CDK's
//     default opener does, opens through rabbitpubsub.URLOpener on it, and
//     closes it with the handle, which hands every unacknowledged delivery
//     back to the broker.
//   - everything else: through the Go CDK mux; release shuts down.
type conns struct {
	mux *pubsub.URLMux

	mu     sync.Mutex
	rabbit *amqp.Connection
}

func (c *conns) isDefaultMux() bool { return c.mux == pubsub.DefaultURLMux() }

// ownsConn reports whether objects of u get a connection of the handle's
// own, which closing hands their unacknowledged deliveries back.
func (c *conns) ownsConn(u *url.URL) bool { return u.Scheme == "rabbit" && c.isDefaultMux() }

// openTopic opens the Go CDK topic u.
func (c *conns) openTopic(ctx context.Context, u *url.URL) (*pubsub.Topic, release, error) {
	if err := c.checkScheme(u, true); err != nil {
		return nil, nil, err
	}
	viaMux := func() (*pubsub.Topic, error) { return c.mux.OpenTopicURL(ctx, u) }
	shared := func() (*pubsub.Topic, error) { t, err := viaMux(); return t, openErr(err) }
	return open(c, u, shared, viaMux, func(o *rabbitpubsub.URLOpener) (*pubsub.Topic, error) { return o.OpenTopicURL(ctx, u) })
}

// openSubscription opens the Go CDK subscription u, named name.
func (c *conns) openSubscription(ctx context.Context, u *url.URL, name string) (*pubsub.Subscription, release, error) {
	if err := c.checkScheme(u, false); err != nil {
		return nil, nil, err
	}
	shared := func() (*pubsub.Subscription, error) { return sharedSubs.get(ctx, c.mux, u, name) }
	viaMux := func() (*pubsub.Subscription, error) { return c.mux.OpenSubscriptionURL(ctx, u) }
	return open(c, u, shared, viaMux, func(o *rabbitpubsub.URLOpener) (*pubsub.Subscription, error) { return o.OpenSubscriptionURL(ctx, u) })
}

// open opens u the way its scheme needs: a shared object with shared
// (released never), one on the handle's own connection with viaRabbit,
// others with viaMux (released by shutting them down).
func open[T interface{ Shutdown(context.Context) error }](c *conns, u *url.URL, shared, viaMux func() (T, error), viaRabbit func(*rabbitpubsub.URLOpener) (T, error)) (T, release, error) {
	var obj, zero T
	var err error
	switch {
	case lookupScheme(u.Scheme).shared:
		if obj, err = shared(); err != nil {
			return zero, nil, err
		}
		return obj, noRelease, nil
	case c.ownsConn(u):
		var o *rabbitpubsub.URLOpener
		if o, err = c.rabbitOpener(); err != nil {
			return zero, nil, err
		}
		obj, err = viaRabbit(o)
	default:
		obj, err = viaMux()
	}
	if err != nil {
		return zero, nil, openErr(err)
	}
	return obj, obj.Shutdown, nil
}

func (c *conns) checkScheme(u *url.URL, topic bool) error {
	ok := c.mux.ValidSubscriptionScheme(u.Scheme)
	what := "subscriptions"
	if topic {
		ok = c.mux.ValidTopicScheme(u.Scheme)
		what = "topics"
	}
	if ok {
		return nil
	}
	msg := "gocloud: the Go CDK URL mux has no driver for " + what + " of scheme \"" + u.Scheme + "\""
	if pkg, known := cdkPackages[u.Scheme]; known {
		msg += "; import its Go CDK package: _ \"" + pkg + "\""
	} else {
		msg += "; import the Go CDK package that registers it"
	}
	return &driver.Error{Code: driver.NotFound, Msg: msg}
}

// cdkPackages names the Go CDK package of each scheme it registers.
var cdkPackages = map[string]string{
	"mem":         "gocloud.dev/pubsub/mempubsub",
	"rabbit":      "gocloud.dev/pubsub/rabbitpubsub",
	"awssqs":      "gocloud.dev/pubsub/awssnssqs",
	"awssns":      "gocloud.dev/pubsub/awssnssqs",
	"gcppubsub":   "gocloud.dev/pubsub/gcppubsub",
	"gcppubsubv2": "gocloud.dev/pubsub/gcppubsubv2",
	"azuresb":     "gocloud.dev/pubsub/azuresb",
	"kafka":       "gocloud.dev/pubsub/kafkapubsub",
	"nats":        "gocloud.dev/pubsub/natspubsub",
}

// rabbitOpener returns a rabbitpubsub.URLOpener on this handle's
// connection, dialing it first if there is none or it closed.
func (c *conns) rabbitOpener() (*rabbitpubsub.URLOpener, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rabbit == nil || c.rabbit.IsClosed() {
		if c.rabbit != nil {
			_ = c.rabbit.Close()
		}
		conn, err := dialRabbit(os.Getenv("RABBIT_SERVER_URL"))
		if err != nil {
			return nil, err
		}
		c.rabbit = conn
	}
	return &rabbitpubsub.URLOpener{Connection: c.rabbit}, nil
}

// reset drops the handle's connection, after a failure that may have
// broken it; the next open dials again. Closing the connection hands its
// unacknowledged deliveries back to the broker.
func (c *conns) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rabbit != nil {
		_ = c.rabbit.Close()
		c.rabbit = nil
	}
}

// close closes what conns holds itself, after every object was released.
func (c *conns) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rabbit == nil {
		return nil
	}
	err := c.rabbit.Close()
	c.rabbit = nil
	if errors.Is(err, amqp.ErrClosed) {
		err = nil // closed by the broker already
	}
	return err
}

// connectionName names the driver's AMQP connections in the broker's
// connection list (rabbitmqctl list_connections client_properties).
var connectionName = "portmq gocloud+rabbit pid " + strconv.Itoa(os.Getpid())

func dialRabbit(raw string) (*amqp.Connection, error) {
	if raw == "" {
		return nil, &driver.Error{Code: driver.FailedPrecondition, Msg: "gocloud: RABBIT_SERVER_URL is not set; the Go CDK's rabbit driver reads the server URL from it"}
	}
	conn, err := amqp.DialConfig(raw, amqp.Config{
		Heartbeat:  10 * time.Second, // amqp.Dial's defaults
		Locale:     "en_US",
		Properties: amqp.Table{"connection_name": connectionName},
	})
	if err != nil {
		return nil, &driver.Error{Code: rabbitDialCode(err, raw), Msg: "gocloud: dial RABBIT_SERVER_URL " + redactURL(raw), Err: redacted(err, raw)}
	}
	return conn, nil
}

// sharedSubs keeps the Go CDK subscriptions of shared schemes (mem): one
// per mux, topic and name, for the life of the process. A mempubsub
// subscription is a queue that exists only inside its handle; keeping it
// makes a portmq subscription URL name the same queue on every open, so
// that handles compete for its messages and a closed handle's messages
// stay in it.
var sharedSubs = &subRegistry{m: map[sharedKey]*pubsub.Subscription{}}

type sharedKey struct {
	mux         *pubsub.URLMux
	topic, name string
}

type subRegistry struct {
	mu sync.Mutex
	m  map[sharedKey]*pubsub.Subscription
}

func (r *subRegistry) get(ctx context.Context, mux *pubsub.URLMux, u *url.URL, name string) (*pubsub.Subscription, error) {
	k := sharedKey{mux: mux, topic: path.Join(u.Host, u.Path), name: name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.m[k]; s != nil {
		return s, nil
	}
	// mempubsub subscribes only to a topic that was opened; open (create)
	// it first, as memdriver creates topics on first use.
	if _, err := mux.OpenTopicURL(ctx, &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}); err != nil {
		return nil, openErr(err)
	}
	s, err := mux.OpenSubscriptionURL(ctx, u)
	if err != nil {
		return nil, openErr(err)
	}
	r.m[k] = s
	return s, nil
}
