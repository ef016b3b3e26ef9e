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

// memHarness runs the Go CDK's conformance suite over the adapter on
// memdriver (mem://), opened through portmq's URL mux.
type memHarness struct {
	admin  *mq.Admin
	topics map[driver.Topic]string // topic name of each topic made
}

func newMemHarness(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
	a, err := mq.OpenAdmin(ctx, "mem://")
	if err != nil {
		return nil, err
	}
	return &memHarness{admin: a, topics: map[driver.Topic]string{}}, nil
}

// name turns a test name into a unique memdriver name.
func name(testName string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := strings.NewReplacer("/", ".", " ", "_")
	return r.Replace(testName) + "." + hex.EncodeToString(b[:])
}

func (h *memHarness) CreateTopic(ctx context.Context, testName string) (driver.Topic, func(), error) {
	n := name(testName)
	p, err := mq.OpenProducer(ctx, "mem://"+n)
	if err != nil {
		return nil, nil, err
	}
	dt := &topic{p: p}
	h.topics[dt] = n
	return dt, func() { _ = h.admin.DeleteTopic(context.Background(), n) }, nil
}

// MakeNonexistentTopic opens a producer and deletes its topic: memdriver
// then fails its sends with NotFound.
func (h *memHarness) MakeNonexistentTopic(ctx context.Context) (driver.Topic, error) {
	n := name("nonexistent")
	p, err := mq.OpenProducer(ctx, "mem://"+n)
	if err != nil {
		return nil, err
	}
	if err := h.admin.DeleteTopic(ctx, n); err != nil {
		return nil, err
	}
	return &topic{p: p}, nil
}

func (h *memHarness) CreateSubscription(ctx context.Context, dt driver.Topic, testName string) (driver.Subscription, func(), error) {
	tn, ok := h.topics[dt]
	if !ok {
		return nil, nil, errors.New("topic not made by this harness")
	}
	sn := name("sub")
	s, err := mq.OpenSubscription(ctx, "mem://"+tn+"/"+sn)
	if err != nil {
		return nil, nil, err
	}
	return &subscription{s: s}, func() { _ = h.admin.DeleteSubscription(context.Background(), tn, sn) }, nil
}

// MakeNonexistentSubscription opens a subscription and deletes it:
// memdriver then fails its receives with NotFound.
func (h *memHarness) MakeNonexistentSubscription(ctx context.Context) (driver.Subscription, func(), error) {
	tn, sn := name("nonexistent"), "sub"
	s, err := mq.OpenSubscription(ctx, "mem://"+tn+"/"+sn)
	if err != nil {
		return nil, nil, err
	}
	if err := h.admin.DeleteSubscription(ctx, tn, sn); err != nil {
		return nil, nil, err
	}
	return &subscription{s: s}, func() { _ = h.admin.DeleteTopic(context.Background(), tn) }, nil
}

func (h *memHarness) Close()                              { _ = h.admin.Close() }
func (h *memHarness) MaxBatchSizes() (int, int)           { return 0, 0 }
func (h *memHarness) SupportsMultipleSubscriptions() bool { return true }

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
