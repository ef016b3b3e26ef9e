package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/mq"
)

func TestURLParametersAreChecked(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("url")
	for _, c := range []struct {
		name, url string
		code      mq.ErrorCode
		mention   string
	}{
		{"unknown portmq-looking parameter", withQuery(base, "topic", topic, "subscription", "s", "max_attempt", "3"), mq.InvalidArgument, "max_attempt"},
		{"repeated parameter", withQuery(base, "topic", topic, "subscription", "s", "ordered", "true", "ordered", "false"), mq.InvalidArgument, "more than once"},
		{"bad duration", withQuery(base, "topic", topic, "subscription", "s", "visibility", "soon"), mq.InvalidArgument, "visibility"},
		{"bad schema", withQuery(strings.Replace(base, "schema="+testSchema, "schema=Bad-Name", 1), "topic", topic, "subscription", "s"), mq.InvalidArgument, "schema"},
		{"missing subscription", withQuery(base, "topic", topic), mq.InvalidArgument, "subscription"},
		{"tiny poll interval", withQuery(base, "topic", topic, "subscription", "s", "poll_interval", "1ms"), mq.InvalidArgument, "poll_interval"},
	} {
		s, err := mq.OpenSubscription(ctx, c.url)
		if err == nil {
			_ = s.Shutdown(ctx)
			t.Errorf("%s: opened %s", c.name, mq.Redact(c.url))
			continue
		}
		if mq.Code(err) != c.code || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: %v (code %v), want code %v naming %q", c.name, err, mq.Code(err), c.code, c.mention)
		}
	}
}

func TestLibpqParametersPassThrough(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	u := withQuery(serverURL(t), "topic", uniqueName("url"), "subscription", "s", "connect_timeout", "5", "sslmode", "disable", "pool_max_conns", "3")
	s, err := mq.OpenSubscription(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	if s.Info().Lease != postgres.DefaultLease {
		t.Errorf("lease %v, want the default %v", s.Info().Lease, postgres.DefaultLease)
	}
}

func TestPasswordNeverInErrors(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	const secret = "hunter2-s3cret"
	for _, u := range []string{
		"postgres://nosuchuser:" + secret + "@127.0.0.1:5432/test?topic=t&schema=" + testSchema,
		"postgres://nosuchuser@127.0.0.1:5432/test?topic=t&password=" + secret,
		"postgres://u:" + secret + "@127.0.0.1:1/test?topic=t&connect_timeout=1",
	} {
		_ = serverURL(t)
		p, err := mq.OpenProducer(ctx, u)
		if err == nil {
			_ = p.Shutdown(ctx)
			t.Errorf("opened %s", mq.Redact(u))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error contains the password: %v", err)
		}
	}
}

func TestSettingsThatDifferFromTheStoredOnesAreRefused(t *testing.T) {
	base := serverURL(t)
	ctx := ctxFor(t, 30*time.Second)
	topic := uniqueName("url")
	s, err := mq.OpenSubscription(ctx, withQuery(base, "topic", topic, "subscription", "s", "max_attempts", "3"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	if info := s.Info(); info.MaxAttempts != 3 || !info.HasDeadLetter {
		t.Errorf("info %+v, want max attempts 3 and the default dead-letter topic", info)
	}
	_, err = mq.OpenSubscription(ctx, withQuery(base, "topic", topic, "subscription", "s", "max_attempts", "4"))
	if mq.Code(err) != mq.FailedPrecondition || !strings.Contains(err.Error(), "max_attempts") {
		t.Errorf("reopening with another max_attempts: %v", err)
	}
	// Without settings it opens with the stored ones.
	s2, err := mq.OpenSubscription(ctx, withQuery(base, "topic", topic, "subscription", "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown(ctx)
	if s2.Info().MaxAttempts != 3 {
		t.Errorf("reopened with max attempts %d, want the stored 3", s2.Info().MaxAttempts)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	// Nothing listens on port 1: connection refused is Unavailable.
	_, err := mq.OpenProducer(ctx, "postgres://postgres@127.0.0.1:1/test?topic=t&connect_timeout=2")
	if mq.Code(err) != mq.Unavailable || !mq.IsRetryable(err) {
		t.Errorf("refused connection: %v (code %v), want Unavailable", err, mq.Code(err))
	}
	// A missing database is NotFound, with the native error reachable.
	_, err = mq.OpenProducer(ctx, strings.Replace(serverURL(t), "/test?", "/nosuchdb_portmq?", 1)+"&topic=t")
	var pe *pgconn.PgError
	if mq.Code(err) != mq.NotFound || !errors.As(err, &pe) || pe.Code != "3D000" {
		t.Errorf("missing database: %v (code %v), want NotFound wrapping SQLSTATE 3D000", err, mq.Code(err))
	}
	// Creating a topic twice is AlreadyExists.
	a, err := mq.OpenAdmin(ctx, serverURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	name := uniqueName("dup")
	if err := a.CreateTopic(ctx, name, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateTopic(ctx, name, mq.TopicConfig{}); mq.Code(err) != mq.AlreadyExists {
		t.Errorf("second CreateTopic: %v, want AlreadyExists", err)
	}
	if err := a.DeleteTopic(ctx, uniqueName("nosuch")); mq.Code(err) != mq.NotFound {
		t.Errorf("DeleteTopic of a missing topic: %v, want NotFound", err)
	}
	if err := a.CreateSubscription(ctx, uniqueName("nosuch"), "s", mq.SubscriptionConfig{}); mq.Code(err) != mq.NotFound {
		t.Errorf("CreateSubscription on a missing topic: %v, want NotFound", err)
	}
}

func TestNotificationWakesAWaitingReceive(t *testing.T) {
	signal := func(ch chan struct{}) func() {
		return func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	idle, listening := make(chan struct{}, 1), make(chan struct{}, 1)
	postgres.SetTestHooks(signal(idle), signal(listening))
	defer postgres.SetTestHooks(nil, nil)
	pool := newPool(t)
	topic := uniqueName("wake")
	// An hour of poll interval: only the notification can wake it in time.
	sub := openSub(t, pool, topic, "s", &postgres.SubscriptionOptions{PollInterval: time.Hour})
	p := openProducer(t, pool, topic)
	got := make(chan error, 1)
	ctx := ctxFor(t, 20*time.Second)
	// Receive once the listener is up (it wakes every receive when it
	// connects, which would do the notification's work).
	select {
	case <-listening:
	case <-ctx.Done():
		t.Fatal("the listener never connected")
	}
	go func() {
		d, err := sub.Receive(ctx)
		if err == nil {
			err = d.Ack()
		}
		got <- err
	}()
	// Send once the receive found nothing and waits: only the
	// notification can then wake it.
	select {
	case <-idle:
	case <-ctx.Done():
		t.Fatal("the receive never went idle")
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("wake up")}); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Receive: %v (the notification did not wake it)", err)
	}
}

func TestLostNotificationCostsAtMostOnePollInterval(t *testing.T) {
	pool := newPool(t)
	topic := uniqueName("lost")
	sub := openSub(t, pool, topic, "s", &postgres.SubscriptionOptions{PollInterval: 300 * time.Millisecond})
	ctx := ctxFor(t, 20*time.Second)
	// Insert a row without notifying, as if the notification were lost.
	if _, err := pool.Exec(ctx, `INSERT INTO `+testSchema+`.queue (sub_id, msg_id, body, published_at, available_at)
		SELECT s.id, 'lost-1', 'x', now(), now() FROM `+testSchema+`.subscriptions s JOIN `+testSchema+`.topics t ON t.id = s.topic_id WHERE t.name = $1`, topic); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second) // 10 poll intervals
	defer cancel()
	d, err := sub.Receive(rctx)
	if err != nil {
		t.Fatalf("a message whose notification was lost was not received within 10 poll intervals: %v", err)
	}
	if d.ID != "lost-1" {
		t.Errorf("received %s", d.ID)
	}
	_ = d.Ack()
}
