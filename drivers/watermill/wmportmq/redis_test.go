package wmportmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	goredis "github.com/redis/go-redis/v9"

	_ "github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// redisServer is the test Redis server with a key prefix of the run's
// own: every key the run makes starts with it, and all are deleted when
// the test ends.
type redisServer struct {
	base  string // the server's URL with ?prefix=
	admin *mq.Admin
}

// newRedis reaches the test server, or ends the test (skip, or failure
// with PORTMQ_REQUIRE_SERVERS=1) when it is not running.
func newRedis(t *testing.T) *redisServer {
	t.Helper()
	raw := testenv.RedisURL()
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		t.Fatalf("%s: %v", testenv.RedisHowToStart, err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis", err, testenv.RedisHowToStart)
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	prefix := "wmportmq-" + hex.EncodeToString(b[:])
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", prefix)
	u.RawQuery = q.Encode()
	r := &redisServer{base: u.String()}
	// Registered before the admin's Close, so it runs after it.
	t.Cleanup(func() { deleteKeys(t, c, prefix+":*") })
	r.admin, err = mq.OpenAdmin(ctx, r.base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.admin.Close() })
	return r
}

// templates returns the publisher and subscriber URL templates. The
// subscription is named for the group alone: a Redis consumer group lives
// on its topic's stream, so the same name on two topics is two groups.
func (r *redisServer) templates() (pub, sub string) {
	return r.base + "&topic={topic}", r.base + "&topic={topic}&subscription={group}"
}

// createTopic creates topic's stream (AlreadyExists is success to
// Provision).
func (r *redisServer) createTopic(ctx context.Context, topic string) error {
	return r.admin.CreateTopic(ctx, topic, mq.TopicConfig{})
}

// createSubscription creates topic and its group: a Redis subscription
// must exist before it is opened, and gets only what is sent after it
// was created.
func (r *redisServer) createSubscription(ctx context.Context, topic, group string) error {
	if err := r.createTopic(ctx, topic); err != nil && !errors.Is(err, mq.ErrAlreadyExists) {
		return err
	}
	return r.admin.CreateSubscription(ctx, topic, group, mq.SubscriptionConfig{})
}

// deleteKeys unlinks every key matching pattern.
func deleteKeys(t *testing.T, c *goredis.Client, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ks []string
	it := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for it.Next(ctx) {
		ks = append(ks, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Errorf("cleanup of %s: %v", pattern, err)
		return
	}
	for len(ks) > 0 {
		n := min(len(ks), 500)
		if err := c.Unlink(ctx, ks[:n]...).Err(); err != nil {
			t.Errorf("cleanup of %s: %v", pattern, err)
			return
		}
		ks = ks[n:]
	}
}

// redisFeatures are Watermill's features of wmportmq over Redis Streams:
// those over memdriver (see memFeatures for why each is set so), with
// these reasons where they differ:
//   - ConsumerGroups: a subscription is a Redis consumer group on the
//     topic's stream: every group gets every entry, the consumers of
//     one group share them (the same promise as memdriver's, kept by
//     Redis instead of the process).
//   - Persistent: streams, groups and pending entries live in Redis, not
//     in a handle: messages outlive the Publisher and Subscriber that sent
//     or left them, and a group keeps them while no one reads it. (Not
//     a Redis restart on the test server, which runs without persistence;
//     that is RestartServiceCommand's business.)
//   - NewSubscriberReceivesOldMessages: a group is created at the end of
//     the stream and gets what is sent after, as memdriver.
//   - RestartServiceCommand stays nil: the server is shared with every
//     other package's tests. The redis driver's own tests restart a
//     redis-server of their own and cut the shared one through a fault
//     proxy.
var redisFeatures = memFeatures

// TestWatermillSuiteOverRedis runs Watermill's own Pub/Sub suite against
// the adapter over the Redis driver, on the test server. Redis streams and
// groups must exist before they are opened, so Provision creates them
// through portmq's Redis admin.
func TestWatermillSuiteOverRedis(t *testing.T) {
	r := newRedis(t)
	pubURL, subURL := r.templates()
	mk := func(t *testing.T, group string) (message.Publisher, message.Subscriber) {
		pub, err := wmportmq.NewPublisher(pubURL, &wmportmq.PublisherConfig{Provision: r.createTopic})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := wmportmq.NewSubscriber(subURL, &wmportmq.SubscriberConfig{ConsumerGroup: group, Provision: r.createSubscription})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pub.Close(); _ = sub.Close() })
		return pub, sub
	}
	tests.TestPubSub(t, redisFeatures,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return mk(t, "") },
		mk,
	)
}
