package gocloud_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/internal/testenv"
)

// rabbitLease is the lease of the gocloud+rabbit harness; the lease is
// kept by mq, so it can be short on a real broker too.
const rabbitLease = 400 * time.Millisecond

// rabbitAdmin declares and deletes the exchanges and queues of the
// gocloud+rabbit harness on the test broker, with names that start with a
// per-run random prefix. The Go CDK has no admin API.
type rabbitAdmin struct {
	conn   *amqp.Connection
	prefix string

	mu        sync.Mutex
	exchanges []string
	queues    []string
}

// newRabbitAdmin connects to the test broker, or ends the test (skip, or
// failure with PORTMQ_REQUIRE_SERVERS=1) when it is not running.
func newRabbitAdmin(t *testing.T) *rabbitAdmin {
	t.Helper()
	conn, err := amqp.Dial(testenv.RabbitMQURL())
	if err != nil {
		testenv.Unavailable(t, "RabbitMQ", err, testenv.RabbitMQHowToStart)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	a := &rabbitAdmin{conn: conn, prefix: "gocloud-test-" + hex.EncodeToString(b[:]) + "-"}
	t.Cleanup(func() {
		if err := a.deleteAll(); err != nil {
			t.Errorf("deleting the test exchanges and queues: %v", err)
		}
		_ = conn.Close()
	})
	return a
}

// declare declares a durable fanout exchange and durable queues bound to
// it.
func (a *rabbitAdmin) declare(exchange string, queues ...string) error {
	ch, err := a.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return err
	}
	a.mu.Lock()
	a.exchanges = append(a.exchanges, exchange)
	a.mu.Unlock()
	for _, q := range queues {
		if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return err
		}
		a.mu.Lock()
		a.queues = append(a.queues, q)
		a.mu.Unlock()
		if err := ch.QueueBind(q, "", exchange, false, nil); err != nil {
			return err
		}
	}
	return nil
}

func (a *rabbitAdmin) deleteAll() error {
	ch, err := a.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, q := range a.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range a.exchanges {
		errs = append(errs, ch.ExchangeDelete(e, false, false))
	}
	a.queues, a.exchanges = nil, nil
	return errors.Join(errs...)
}

// provision provisions one case: an exchange (the topic), a queue per
// subscription, and a dead-letter exchange with one queue. Retries go to
// the case's exchange, tagged for the subscription that nacked.
func (a *rabbitAdmin) provision(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	ex := a.prefix + spec.Name
	res := &conformance.Resources{TopicURL: "gocloud+rabbit://" + ex}
	q := url.Values{}
	q.Set("visibility", spec.Lease.String())
	q.Set("retry_topic", "rabbit://"+ex)
	if spec.MaxAttempts > 0 {
		q.Set("max_attempts", strconv.Itoa(spec.MaxAttempts))
	}
	if spec.DeadLetter {
		dlx := ex + "-dlq"
		if err := a.declare(dlx, dlx+"-q"); err != nil {
			return nil, err
		}
		q.Set("dead_letter", "rabbit://"+dlx)
		res.DeadLetterURL = "gocloud+rabbit://" + dlx + "-q"
	}
	var queues []string
	for i := range spec.Subscriptions {
		queues = append(queues, ex+"-sub-"+strconv.Itoa(i))
	}
	if err := a.declare(ex, queues...); err != nil {
		return nil, err
	}
	for _, qn := range queues {
		res.SubscriptionURLs = append(res.SubscriptionURLs, "gocloud+rabbit://"+qn+"?"+q.Encode())
	}
	return res, nil
}

func TestConformanceRabbit(t *testing.T) {
	t.Parallel()
	a := newRabbitAdmin(t)
	conformance.Run(t, conformance.Harness{
		Name:      "gocloud+rabbit",
		Provision: a.provision,
		Lease:     rabbitLease,
	})
}
