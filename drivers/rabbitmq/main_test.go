package rabbitmq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

// brokerLock is held shared for the whole run, so that no other package's
// test restarts the shared RabbitMQ server under this one's; the reconnect
// case upgrades it to exclusive while it restarts the broker.
var brokerLock *testenv.BrokerLock

func TestMain(m *testing.M) {
	l, err := testenv.LockBroker("rabbitmq", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rabbitmq tests: cannot take the broker lock:", err)
		os.Exit(2)
	}
	brokerLock = l
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = l.Unlock() }))
}

// runPrefix names everything this test run creates, so that concurrent
// runs do not collide.
var runPrefix = func() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "portmq-rmq-" + hex.EncodeToString(b[:]) + "-"
}()

var (
	serverOnce sync.Once
	serverErr  error
)

// serverURL returns the test server's URL, or ends the test (skip on a
// laptop, failure in CI) when it cannot be reached.
func serverURL(t testing.TB) string {
	t.Helper()
	u := testenv.RabbitMQURL()
	serverOnce.Do(func() {
		c, err := amqp.DialConfig(u, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
		if err != nil {
			serverErr = err
			return
		}
		_ = c.Close()
	})
	if serverErr != nil {
		testenv.Unavailable(t, "RabbitMQ", serverErr, testenv.RabbitMQHowToStart)
	}
	return u
}

// withQuery returns base with the query parameters kv (pairs).
func withQuery(t testing.TB, base string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// names returns a unique name for a test's resources.
func uniqueName(t testing.TB, what string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return runPrefix + what + "-" + hex.EncodeToString(b[:])
}

// deleteAll deletes queues and exchanges, reporting failures.
func deleteAll(t testing.TB, queues, exchanges []string) {
	t.Helper()
	c, err := amqp.Dial(testenv.RabbitMQURL())
	if err != nil {
		t.Logf("cleanup: dial: %v", err)
		return
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Logf("cleanup: channel: %v", err)
		return
	}
	defer ch.Close()
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("cleanup: delete queue %s: %v", q, err)
			return
		}
		// Its claim for its topic, if it had one (RabbitMQ 3 ignores a
		// missing exchange).
		if err := ch.ExchangeDelete(q+".portmq-topic", false, false); err != nil {
			t.Logf("cleanup: delete the claim of %s: %v", q, err)
			return
		}
	}
	for _, x := range exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Logf("cleanup: delete exchange %s: %v", x, err)
			return
		}
	}
}

// deleteSubscription deletes, through the driver's admin, a topic, its
// subscription q with its wait queues, and q's default dead-letter topic
// and queue, whichever exist.
func deleteSubscription(t testing.TB, topic, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := mq.OpenAdmin(ctx, testenv.RabbitMQURL())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer a.Close()
	for _, err := range []error{
		a.DeleteSubscription(ctx, topic, q), a.DeleteSubscription(ctx, q+".dlq", q+".dlq"),
		a.DeleteTopic(ctx, q+".dlq"), a.DeleteTopic(ctx, topic),
	} {
		if err != nil && !errors.Is(err, mq.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
