package gocloud_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"gocloud.dev/pubsub"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/drivers/gocloud"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
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
		qn := ex + "-sub-" + strconv.Itoa(i)
		if i == 0 && spec.SubscriptionName != "" {
			qn = a.prefix + spec.SubscriptionName
		}
		queues = append(queues, qn)
	}
	if err := a.declare(ex, queues...); err != nil {
		return nil, err
	}
	for _, qn := range queues {
		res.SubscriptionURLs = append(res.SubscriptionURLs, "gocloud+rabbit://"+qn+"?"+q.Encode())
	}
	return res, nil
}

// forceClose closes, from the broker side, every AMQP connection the
// driver dialed in this process: what its clients see of a broker restart
// (connection.close with CONNECTION_FORCED), without restarting the broker
// other packages' tests share. Messages and queues are durable, so a real
// restart would keep them too. rabbitmqctl takes seconds on a loaded
// machine (5 s for one list_connections at a load of 26 on 2 cores), so
// it runs under a budget of its own, not under the case's.
func forceClose(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "list_connections", "pid", "client_properties").Output()
	if err != nil {
		return fmt.Errorf("rabbitmqctl list_connections: %w", err)
	}
	closed := 0
	for _, line := range strings.Split(string(out), "\n") {
		pid, props, ok := strings.Cut(line, "\t")
		if !ok || !strings.Contains(props, `"`+gocloud.ConnectionName()+`"`) {
			continue
		}
		if err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "close_connection", pid, "portmq gocloud test: simulated broker restart").Run(); err != nil {
			return fmt.Errorf("rabbitmqctl close_connection %s: %w", pid, err)
		}
		closed++
	}
	if closed == 0 {
		return errors.New("no connection of the driver found in rabbitmqctl list_connections")
	}
	return nil
}

// TestConformanceRabbit is not parallel: it points RABBIT_SERVER_URL, which
// the Go CDK's rabbit driver reads, at a fault proxy for the cut cases.
func TestConformanceRabbit(t *testing.T) {
	a := newRabbitAdmin(t)
	u, err := url.Parse(os.Getenv("RABBIT_SERVER_URL"))
	if err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = px.Close() })
	u.Host = px.Addr()
	t.Setenv("RABBIT_SERVER_URL", u.String())
	restart := forceClose
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Logf("rabbitmqctl not found (%v): the reconnect case is skipped", err)
		restart = nil
	}
	if u, err := url.Parse(testenv.RabbitMQURL()); err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		t.Logf("the test broker is not local: rabbitmqctl cannot close its connections; the reconnect case is skipped")
		restart = nil
	}
	conformance.Run(t, conformance.Harness{
		Name:      "gocloud+rabbit",
		Provision: a.provision,
		Lease:     rabbitLease,
		Restart:   restart,
		Cut:       px.CutContext,
	})
}

// gocloud+rabbit sends persistent messages with the portmq ID as AMQP
// message-id, and its handles expose the Go CDK and AMQP types.
func TestRabbitEscapeHatchesAndPersistence(t *testing.T) {
	a := newRabbitAdmin(t)
	ctx := context.Background()
	ex := a.prefix + "hatches"
	if err := a.declare(ex, ex+"-q"); err != nil {
		t.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "gocloud+rabbit://"+ex)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, p.Shutdown)
	sub, err := mq.OpenSubscription(ctx, "gocloud+rabbit://"+ex+"-q?visibility=1m")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, sub.Shutdown)
	m := &mq.Message{Body: []byte("durable"), Key: "k"}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := recv(t, sub)
	var ad amqp.Delivery
	if !d.As(&ad) {
		t.Fatal("Delivery.As(*amqp.Delivery) = false")
	}
	if ad.DeliveryMode != amqp.Persistent || ad.MessageId != m.ID || d.ID != m.ID || d.Key != "k" {
		t.Errorf("AMQP delivery mode %d message-id %q, portmq ID %q key %q; want persistent, %q, %q, k", ad.DeliveryMode, ad.MessageId, d.ID, d.Key, m.ID, m.ID)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	var conn *amqp.Connection
	if !sub.As(&conn) || conn == nil || conn.IsClosed() {
		t.Error("Subscription.As(**amqp.Connection) gives no open connection")
	}
	var pt *pubsub.Topic
	if !p.As(&pt) || pt == nil {
		t.Error("Producer.As(**pubsub.Topic) = false")
	}
	// A missing exchange is NotFound, with the *amqp.Error reachable.
	p2, err := mq.OpenProducer(ctx, "gocloud+rabbit://"+a.prefix+"no-such-exchange")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, p2.Shutdown)
	err = p2.Send(ctx, &mq.Message{Body: []byte("x")})
	var ae *amqp.Error
	if mq.Code(err) != mq.NotFound || !p2.ErrorAs(err, &ae) || ae.Code != amqp.NotFound {
		t.Errorf("Send to a missing exchange = %v (code %v, *amqp.Error %v), want NotFound with the *amqp.Error", err, mq.Code(err), ae)
	}
}

func TestRabbitWrongPasswordIsUnauthenticatedAndHidden(t *testing.T) {
	newRabbitAdmin(t) // skips without a broker
	u, err := url.Parse(testenv.RabbitMQURL())
	if err != nil {
		t.Fatal(err)
	}
	user := "guest"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, "wr0ngpassw0rd")
	t.Setenv("RABBIT_SERVER_URL", u.String())
	_, err = mq.OpenProducer(context.Background(), "gocloud+rabbit://any")
	if mq.Code(err) != mq.Unauthenticated || strings.Contains(err.Error(), "wr0ngpassw0rd") {
		t.Errorf("open with a wrong password = %v (code %v), want Unauthenticated without the password", err, mq.Code(err))
	}
}
