package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild() // never returns
	}
	// go-redis logs every failed dial; the fault cases cause many.
	goredis.SetLogger(quietLogger{})
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// howToStart says how to start the local Redis server.
const howToStart = `start it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no (or set PORTMQ_TEST_REDIS_URL)`

// redisURL is the test server's URL: PORTMQ_TEST_REDIS_URL, else
// redis://127.0.0.1:6379/0.
func redisURL() string {
	if u := os.Getenv("PORTMQ_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

var (
	serverOnce sync.Once
	serverErr  error
)

// serverURL returns the server's URL with a key prefix of the test's own
// (so that tests and runs never share a key), or ends the test (skip on a
// laptop, failure in CI) when the server cannot be reached. The prefix's
// keys are deleted when the test ends.
func serverURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		c := rawClient(nil)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		serverErr = c.Ping(ctx).Err()
	})
	if serverErr != nil {
		testenv.Unavailable(t, "Redis", serverErr, howToStart)
	}
	p := newPrefix()
	t.Cleanup(func() { deletePrefix(t, p) })
	return withQuery(redisURL(), "prefix", p)
}

// newPrefix returns a fresh key prefix.
func newPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "portmq-test-" + hex.EncodeToString(b[:])
}

// prefixOf returns the prefix parameter of u.
func prefixOf(t testing.TB, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query().Get("prefix")
}

// rawClient returns a go-redis client of the test server, through the
// proxy address addr when not nil.
func rawClient(addr *string) *goredis.Client {
	u, err := url.Parse(redisURL())
	if err != nil {
		panic(err)
	}
	host := u.Host
	if addr != nil {
		host = *addr
	}
	o := &goredis.Options{Addr: host}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	return goredis.NewClient(o)
}

// deletePrefix deletes every key starting with p.
func deletePrefix(t testing.TB, p string) {
	c := rawClient(nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := c.Scan(ctx, 0, p+":*", 1000).Iterator()
	var ks []string
	for it.Next(ctx) {
		ks = append(ks, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Logf("cleanup of %s: %v", p, err)
		return
	}
	for len(ks) > 0 {
		n := min(len(ks), 500)
		if err := c.Unlink(ctx, ks[:n]...).Err(); err != nil {
			t.Logf("cleanup of %s: %v", p, err)
			return
		}
		ks = ks[n:]
	}
}

// withQuery returns base with the query parameters kv (pairs) added.
func withQuery(base string, kv ...string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// setup creates topic and its subscriptions subs (with cfg) through the
// admin of base.
func setup(t testing.TB, base, topic string, cfg mq.SubscriptionConfig, subs ...string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	a, err := mq.OpenAdmin(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if err := a.CreateSubscription(ctx, topic, s, cfg); err != nil {
			t.Fatal(err)
		}
	}
}

func subURL(base, topic, sub string, kv ...string) string {
	return withQuery(base, append([]string{"topic", topic, "subscription", sub}, kv...)...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
