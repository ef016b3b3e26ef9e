package portmqpubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/driver"
	"gocloud.dev/pubsub/drivertest"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
)

// harness runs the Go CDK's conformance suite over the adapter on a
// portmq backend, opened through portmq's URL mux. Nonexistent topics and
// subscriptions are made by opening them and deleting them with the
// backend's admin: its sends and receives then fail with NotFound.
type harness struct {
	admin    *mq.Admin
	prefix   string                         // starts every name, unique to the run
	topicURL func(topic string) string      // a producer URL
	subURL   func(topic, sub string) string // a subscription URL
	topics   map[driver.Topic]string        // topic name of each topic made
}

func (h *harness) CreateTopic(ctx context.Context, testName string) (driver.Topic, func(), error) {
	n := h.prefix + name(testName)
	p, err := mq.OpenProducer(ctx, h.topicURL(n))
	if err != nil {
		return nil, nil, err
	}
	dt := &topic{p: p}
	h.topics[dt] = n
	// Some tests use the driver topic without a pubsub.Topic, which
	// would close it; closing twice is harmless.
	return dt, func() { _ = dt.Close(); _ = h.admin.DeleteTopic(context.Background(), n) }, nil
}

func (h *harness) MakeNonexistentTopic(ctx context.Context) (driver.Topic, error) {
	n := h.prefix + name("nonexistent")
	p, err := mq.OpenProducer(ctx, h.topicURL(n))
	if err != nil {
		return nil, err
	}
	if err := h.admin.DeleteTopic(ctx, n); err != nil {
		return nil, err
	}
	return &topic{p: p}, nil
}

func (h *harness) CreateSubscription(ctx context.Context, dt driver.Topic, testName string) (driver.Subscription, func(), error) {
	tn, ok := h.topics[dt]
	if !ok {
		return nil, nil, errors.New("topic not made by this harness")
	}
	sn := h.prefix + name("sub")
	s, err := mq.OpenSubscription(ctx, h.subURL(tn, sn))
	if err != nil {
		return nil, nil, err
	}
	ds := &subscription{s: s}
	return ds, func() { _ = ds.Close(); _ = h.admin.DeleteSubscription(context.Background(), tn, sn) }, nil
}

func (h *harness) MakeNonexistentSubscription(ctx context.Context) (driver.Subscription, func(), error) {
	tn, sn := h.prefix+name("nonexistent"), h.prefix+name("sub")
	s, err := mq.OpenSubscription(ctx, h.subURL(tn, sn))
	if err != nil {
		return nil, nil, err
	}
	if err := h.admin.DeleteSubscription(ctx, tn, sn); err != nil {
		return nil, nil, err
	}
	ds := &subscription{s: s}
	return ds, func() { _ = ds.Close(); _ = h.admin.DeleteTopic(context.Background(), tn) }, nil
}

func (h *harness) Close()                              { _ = h.admin.Close() }
func (h *harness) MaxBatchSizes() (int, int)           { return 0, 0 }
func (h *harness) SupportsMultipleSubscriptions() bool { return true }

// name turns a test name into a unique name for memdriver and RabbitMQ.
func name(testName string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := strings.NewReplacer("/", ".", " ", "_")
	return r.Replace(testName) + "." + hex.EncodeToString(b[:])
}

// newMemHarness runs the suite on memdriver (mem://).
func newMemHarness(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
	a, err := mq.OpenAdmin(ctx, "mem://")
	if err != nil {
		return nil, err
	}
	return &harness{
		admin:    a,
		topicURL: func(topic string) string { return "mem://" + topic },
		subURL:   func(topic, sub string) string { return "mem://" + topic + "/" + sub },
		topics:   map[driver.Topic]string{},
	}, nil
}

func TestConformanceMem(t *testing.T) {
	drivertest.RunConformanceTests(t, newMemHarness, []drivertest.AsTest{escapeHatches{native: func(as func(any) bool) error {
		var e *memdriver.Engine
		if !as(&e) || e == nil {
			return errors.New("As(**memdriver.Engine) = false, want memdriver's engine")
		}
		return nil
	}}})
}

// escapeHatches checks the As functions the adapter offers: the portmq
// objects (*mq.Producer, *mq.Subscription, *mq.Message before and after
// sending, *mq.Delivery, *mq.Error) and, through them, the portmq
// driver's own (native checks the subscription's and topic's).
type escapeHatches struct {
	native func(as func(any) bool) error
}

const asKey = "key-set-through-BeforeSend"

func (escapeHatches) Name() string { return "portmq escape hatches" }

func (a escapeHatches) TopicCheck(t *pubsub.Topic) error {
	var p *mq.Producer
	if !t.As(&p) || p == nil {
		return errors.New("Topic.As(**mq.Producer) = false")
	}
	if t.As(new(*mq.Subscription)) {
		return errors.New("Topic.As(**mq.Subscription) = true")
	}
	return a.native(t.As)
}

func (a escapeHatches) SubscriptionCheck(s *pubsub.Subscription) error {
	var sub *mq.Subscription
	if !s.As(&sub) || sub == nil {
		return errors.New("Subscription.As(**mq.Subscription) = false")
	}
	if sub.Capabilities().Attempts.Has() != true {
		return errors.New("memdriver subscription reports no attempt count")
	}
	return a.native(s.As)
}

func (escapeHatches) TopicErrorCheck(t *pubsub.Topic, err error) error {
	var me *mq.Error
	if !t.ErrorAs(err, &me) || me.Code != mq.NotFound {
		return fmt.Errorf("Topic.ErrorAs(%v, **mq.Error) = %v, want a NotFound *mq.Error", err, me)
	}
	return nil
}

func (escapeHatches) SubscriptionErrorCheck(s *pubsub.Subscription, err error) error {
	var me *mq.Error
	if !s.ErrorAs(err, &me) || me.Code != mq.NotFound {
		return fmt.Errorf("Subscription.ErrorAs(%v, **mq.Error) = %v, want a NotFound *mq.Error", err, me)
	}
	return nil
}

func (escapeHatches) MessageCheck(m *pubsub.Message) error {
	var d *mq.Delivery
	if !m.As(&d) || d == nil {
		return errors.New("Message.As(**mq.Delivery) = false")
	}
	if d.Attempt != 1 || d.Key != asKey || d.ID != m.LoggableID {
		return fmt.Errorf("delivery has Attempt %d, Key %q, ID %q (LoggableID %q); want 1, %q and the LoggableID", d.Attempt, d.Key, d.ID, m.LoggableID, asKey)
	}
	return nil
}

func (escapeHatches) BeforeSend(as func(any) bool) error {
	var m *mq.Message
	if !as(&m) || m == nil {
		return errors.New("BeforeSend's As(**mq.Message) = false")
	}
	m.Key = asKey
	return nil
}

func (escapeHatches) AfterSend(as func(any) bool) error {
	var m *mq.Message
	if !as(&m) || m == nil || m.ID == "" {
		return errors.New("AfterSend's As(**mq.Message) = false or the message has no ID")
	}
	return nil
}
