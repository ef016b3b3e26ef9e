package gocloud_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	cdkdriver "gocloud.dev/pubsub/driver"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/portmq/portmq/drivers/gocloud"
	"github.com/portmq/portmq/mq"
)

const wait = 10 * time.Second // for things that must happen

func recv(t *testing.T, s *mq.Subscription) *mq.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	d, err := s.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return d
}

func shutdown(t *testing.T, f func(context.Context) error) {
	t.Helper()
	if err := f(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// A subscription made from Go CDK objects counts attempts by republishing
// to its retry topic and dead-letters at MaxAttempts, also for a message
// not sent through portmq.
func TestNewSubscriptionCountsAttemptsAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	top := mempubsub.NewTopic()
	cdkSub := mempubsub.NewSubscription(top, time.Minute)
	dlqTop := mempubsub.NewTopic()
	dlqSub := mempubsub.NewSubscription(dlqTop, time.Minute)
	defer shutdown(t, dlqSub.Shutdown)

	ds, err := gocloud.NewSubscription(cdkSub, &gocloud.SubscriptionOptions{Name: "billing", Lease: time.Minute, MaxAttempts: 2, RetryTopic: top, DeadLetterTopic: dlqTop})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, sub.Shutdown)
	if c := sub.Capabilities(); c.Attempts.String() != "driver" || c.Lease.Has() || c.DeadLetter.Has() || c.NackDelay.Has() {
		t.Errorf("capabilities %v, want attempts=driver and the rest none", c)
	}

	// Sent with the Go CDK directly: no portmq metadata.
	if err := top.Send(ctx, &pubsub.Message{Body: []byte("order 1"), Metadata: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	d1 := recv(t, sub)
	var pm *pubsub.Message
	if d1.Attempt != 1 || string(d1.Body) != "order 1" || d1.Attributes["a"] != "1" || len(d1.Attributes) != 1 || !d1.As(&pm) || pm.LoggableID != d1.ID {
		t.Fatalf("first delivery: attempt %d body %q attributes %v ID %q", d1.Attempt, d1.Body, d1.Attributes, d1.ID)
	}
	if err := d1.Nack(0); err != nil {
		t.Fatal(err)
	}
	d2 := recv(t, sub)
	if d2.Attempt != 2 || d2.ID != d1.ID || len(d2.Attributes) != 1 {
		t.Fatalf("retried delivery: attempt %d ID %q (first %q) attributes %v", d2.Attempt, d2.ID, d1.ID, d2.Attributes)
	}
	if err := d2.Nack(0); err != nil { // the last attempt: dead-lettered
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	dl, err := dlqSub.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	dl.Ack()
	md := dl.Metadata
	if string(dl.Body) != "order 1" || md["a"] != "1" || md[mq.AttrAttempts] != "2" || md[mq.AttrSource] != "billing" || !strings.Contains(md[mq.AttrDeadLetterReason], "max attempts") {
		t.Errorf("dead letter %q with metadata %v", dl.Body, md)
	}
	var cs *pubsub.Subscription
	if !sub.As(&cs) || cs != cdkSub {
		t.Error("Subscription.As(**pubsub.Subscription) does not give the Go CDK subscription")
	}
}

// Without a retry topic a nack is the Go CDK's, and attempts are not
// counted.
func TestNackWithoutRetryTopicIsTheGoCDKNack(t *testing.T) {
	top := mempubsub.NewTopic()
	defer shutdown(t, top.Shutdown)
	ds, err := gocloud.NewSubscription(mempubsub.NewSubscription(top, time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := mq.NewSubscription(ds)
	defer shutdown(t, sub.Shutdown)
	if sub.Capabilities().Attempts.Has() {
		t.Error("attempts counted without a retry topic")
	}
	if err := top.Send(context.Background(), &pubsub.Message{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	d := recv(t, sub)
	if err := d.Nack(0); err != nil {
		t.Fatal(err)
	}
	d = recv(t, sub)
	if d.Attempt != 1 || string(d.Body) != "x" {
		t.Errorf("redelivery: attempt %d body %q; want 1 (uncounted) and x", d.Attempt, d.Body)
	}
	if err := d.Ack(); err != nil {
		t.Error(err)
	}
}

// Retried copies reach every subscription of the retry topic; the others
// drop them.
func TestOtherSubscriptionsDropRetriedCopies(t *testing.T) {
	ctx := context.Background()
	top := mempubsub.NewTopic()
	open := func(o *gocloud.SubscriptionOptions) *mq.Subscription {
		ds, err := gocloud.NewSubscription(mempubsub.NewSubscription(top, time.Minute), o)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := mq.NewSubscription(ds)
		return s
	}
	// a owns the topic (as its retry topic); b only has a name.
	a, b := open(&gocloud.SubscriptionOptions{Name: "a", RetryTopic: top}), open(&gocloud.SubscriptionOptions{Name: "b"})
	defer shutdown(t, a.Shutdown)
	defer shutdown(t, b.Shutdown)
	if err := top.Send(ctx, &pubsub.Message{Body: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, a).Nack(0); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, a); d.Attempt != 2 {
		t.Fatalf("a: retried copy has attempt %d", d.Attempt)
	} else if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	// The copy is in b's queue too, before the marker sent now.
	if err := top.Send(ctx, &pubsub.Message{Body: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 2 {
		d := recv(t, b)
		got[string(d.Body)]++
		if d.Attempt != 1 {
			t.Errorf("b got %q with attempt %d: a's retried copy", d.Body, d.Attempt)
		}
		_ = d.Ack()
	}
	if got["m"] != 1 || got["marker"] != 1 {
		t.Errorf("b received %v, want m and marker once each", got)
	}
}

// A producer over a Go CDK topic carries Key, DedupID and the ID in the
// message metadata.
func TestNewTopicSendsPortmqFields(t *testing.T) {
	ctx := context.Background()
	top := mempubsub.NewTopic()
	cdkSub := mempubsub.NewSubscription(top, time.Minute)
	defer shutdown(t, cdkSub.Shutdown)
	p, err := mq.NewProducer(gocloud.NewTopic(top, &gocloud.TopicOptions{MaxBodySize: 10}))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, p.Shutdown)
	if p.Capabilities().MaxBodySize != 10 {
		t.Errorf("MaxBodySize %d, want 10", p.Capabilities().MaxBodySize)
	}
	if err := p.Send(ctx, &mq.Message{Body: make([]byte, 11)}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("oversized Send = %v, want InvalidArgument", err)
	}
	body := []byte("hello")
	m := &mq.Message{Body: body, Key: "k1", DedupID: "d1", Attributes: map[string]string{"x": "y"}}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	copy(body, "XXXXX") // mq lets the caller reuse the body
	var pt *pubsub.Topic
	if !p.As(&pt) || pt != top {
		t.Error("Producer.As(**pubsub.Topic) does not give the Go CDK topic")
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	got, err := cdkSub.Receive(rctx)
	if err != nil {
		t.Fatal(err)
	}
	got.Ack()
	md := got.Metadata
	if string(got.Body) != "hello" || md["x"] != "y" || md[gocloud.AttrKey] != "k1" || md[gocloud.AttrDedupID] != "d1" || md[gocloud.AttrID] != m.ID || md[gocloud.AttrPublishedAt] == "" {
		t.Errorf("Go CDK received %q with metadata %v (ID %s)", got.Body, md, m.ID)
	}
}

// cannotNack is a Go CDK driver that cannot nack (like kafkapubsub or
// azuresb in receive-and-delete mode); it hands out one message.
type cannotNack struct {
	given atomic.Bool
}

func (c *cannotNack) ReceiveBatch(ctx context.Context, n int) ([]*cdkdriver.Message, error) {
	if c.given.CompareAndSwap(false, true) {
		return []*cdkdriver.Message{{LoggableID: "one", Body: []byte("x"), AckID: 1, AsFunc: func(any) bool { return false }}}, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Millisecond):
		return nil, nil
	}
}
func (*cannotNack) SendAcks(context.Context, []cdkdriver.AckID) error { return nil }
func (*cannotNack) CanNack() bool                                     { return false }
func (*cannotNack) SendNacks(context.Context, []cdkdriver.AckID) error {
	panic("SendNacks on a driver that cannot nack")
}
func (*cannotNack) IsRetryable(error) bool             { return false }
func (*cannotNack) As(any) bool                        { return false }
func (*cannotNack) ErrorAs(error, any) bool            { return false }
func (*cannotNack) ErrorCode(error) gcerrors.ErrorCode { return gcerrors.Unknown }
func (*cannotNack) Close() error                       { return nil }

func TestNackOnDriverThatCannotNackIsUnsupported(t *testing.T) {
	ds, err := gocloud.NewSubscription(pubsub.NewSubscription(&cannotNack{}, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := mq.NewSubscription(ds)
	defer shutdown(t, sub.Shutdown)
	d := recv(t, sub)
	if err := d.Nack(0); !errors.Is(err, mq.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Nack = %v, want an error matching ErrUnsupported", err)
	}
	// The Go CDK message stays reachable: settle it there.
	var pm *pubsub.Message
	if !d.As(&pm) {
		t.Fatal("Delivery.As(**pubsub.Message) = false")
	}
	pm.Ack()
}

func TestNewSubscriptionRejectsBadOptions(t *testing.T) {
	top := mempubsub.NewTopic()
	defer shutdown(t, top.Shutdown)
	s := mempubsub.NewSubscription(top, time.Minute)
	defer shutdown(t, s.Shutdown)
	for name, o := range map[string]*gocloud.SubscriptionOptions{
		"negative lease":             {Lease: -time.Second},
		"retry topic without a name": {RetryTopic: top},
		"max attempts without retry": {MaxAttempts: 3, DeadLetterTopic: top},
		"max attempts without a dlq": {MaxAttempts: 1},
		"negative max attempts":      {MaxAttempts: -1},
	} {
		if _, err := gocloud.NewSubscription(s, o); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if _, err := gocloud.NewSubscription(nil, nil); err == nil {
		t.Error("nil subscription accepted")
	}
}

func TestRegisterAddsSchemeNamingTheMissingGoCDKDriver(t *testing.T) {
	gocloud.Register("portmqtestonly")
	if !mq.DefaultURLMux().ValidScheme("gocloud+portmqtestonly") {
		t.Fatal("gocloud+portmqtestonly not registered")
	}
	_, err := mq.OpenProducer(context.Background(), "gocloud+portmqtestonly://t")
	if mq.Code(err) != mq.NotFound || !strings.Contains(err.Error(), `"portmqtestonly"`) {
		t.Errorf("open of a scheme the Go CDK lacks = %v, want NotFound naming it", err)
	}
}
