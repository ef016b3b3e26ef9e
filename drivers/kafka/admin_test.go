package kafka

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq"
)

func TestAdminProvisionsAndDeletes(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()
	base := "kafka://" + c.addr() + "/"
	a, err := mq.OpenAdmin(ctx, base+"?partitions=2")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	check := func(what string, err error, want mq.ErrorCode) {
		t.Helper()
		if mq.Code(err) != want {
			t.Errorf("%s = %v (code %v), want %v", what, err, mq.Code(err), want)
		}
	}
	check("CreateSubscription on a missing topic", a.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{}), mq.NotFound)
	check("CreateTopic", a.CreateTopic(ctx, "orders", mq.TopicConfig{}), mq.OK)
	check("CreateTopic again", a.CreateTopic(ctx, "orders", mq.TopicConfig{}), mq.AlreadyExists)
	err = a.CreateTopic(ctx, "dedup", mq.TopicConfig{DedupWindow: time.Minute})
	check("CreateTopic with a dedup window", err, mq.Unsupported)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CreateTopic with a dedup window: %v does not match errors.ErrUnsupported", err)
	}
	check("CreateSubscription with a lease", a.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{Lease: time.Minute}), mq.InvalidArgument)
	check("CreateSubscription with max attempts", a.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{MaxAttempts: 3}), mq.InvalidArgument)
	check("CreateSubscription", a.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{DeadLetterTopic: "orders.dead"}), mq.OK)
	check("CreateSubscription again", a.CreateSubscription(ctx, "orders", "billing", mq.SubscriptionConfig{}), mq.AlreadyExists)

	var adm *kadm.Client
	if !a.As(&adm) {
		t.Fatal("Admin.As(**kadm.Client) = false")
	}
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders", "orders.retry.billing", "orders.dead"} {
		td, ok := tds[name]
		if !ok {
			t.Errorf("topic %s was not created", name)
		} else if len(td.Partitions) != 2 {
			t.Errorf("topic %s has %d partitions, want 2", name, len(td.Partitions))
		}
	}
	// The group starts at the topic's end: it exists, with offsets.
	offs, err := adm.FetchOffsetsForTopics(ctx, "billing", "orders")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("orders", 0); !ok || o.At != 0 {
		t.Errorf("group billing's offset for orders/0 = %+v (found %v), want 0", o, ok)
	}

	check("DeleteSubscription", a.DeleteSubscription(ctx, "orders", "billing"), mq.OK)
	check("DeleteSubscription again", a.DeleteSubscription(ctx, "orders", "billing"), mq.NotFound)
	check("DeleteTopic", a.DeleteTopic(ctx, "orders"), mq.OK)
	check("DeleteTopic again", a.DeleteTopic(ctx, "orders"), mq.NotFound)
}

func TestOpeningMissingTopicIsNotFound(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()
	if _, err := mq.OpenProducer(ctx, "kafka://"+c.addr()+"/nope"); mq.Code(err) != mq.NotFound {
		t.Errorf("OpenProducer on a missing topic = %v (code %v), want NotFound", err, mq.Code(err))
	}
	if _, err := mq.OpenSubscription(ctx, "kafka://"+c.addr()+"/nope?subscription=s"); mq.Code(err) != mq.NotFound {
		t.Errorf("OpenSubscription on a missing topic = %v (code %v), want NotFound", err, mq.Code(err))
	}
}

// TestShareMaxAttemptsMustBeBelowDeliveryLimit checks that a share-mode
// subscription whose max_attempts the broker's delivery limit (5 here)
// would cut short fails to open.
func TestShareMaxAttemptsMustBeBelowDeliveryLimit(t *testing.T) {
	c := startCluster(t)
	_, topic, group := provisionOne(t, c.addr(), ShareMode, "limit")
	u := "kafka://" + c.addr() + "/" + topic + "?mode=share&subscription=" + group + "&max_attempts="
	if _, err := mq.OpenSubscription(t.Context(), u+"5"); mq.Code(err) != mq.FailedPrecondition {
		t.Errorf("max_attempts=5 with a delivery limit of 5: %v (code %v), want FailedPrecondition", err, mq.Code(err))
	}
	s, err := mq.OpenSubscription(t.Context(), u+"4")
	if err != nil {
		t.Fatalf("max_attempts=4: %v", err)
	}
	_ = s.Shutdown(t.Context())
}

// TestProducerRefusesClientWithoutAcksAll checks that the plain
// constructor refuses a client that does not wait for every in-sync
// replica, and that Producer.As gives the client.
func TestProducerRefusesClientWithoutAcksAll(t *testing.T) {
	c := startCluster(t)
	_, topic, _ := provisionOne(t, c.addr(), GroupMode, "acks")
	cl := mustClient(t, c.addr(), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if _, err := OpenTopic(t.Context(), cl, topic, nil); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("OpenTopic with acks=1: %v, want InvalidArgument", err)
	}
	good := mustClient(t, c.addr())
	p := producerOn(t, good, topic, &TopicOptions{MaxBodySize: 100})
	var got *kgo.Client
	if !p.As(&got) || got != good {
		t.Errorf("Producer.As(**kgo.Client) did not give the client")
	}
	if err := p.Send(t.Context(), &mq.Message{Body: make([]byte, 101)}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("Send of 101 bytes with MaxBodySize 100 = %v, want InvalidArgument", err)
	}
	if err := p.Send(t.Context(), &mq.Message{Body: []byte("ok")}); err != nil {
		t.Errorf("Send: %v", err)
	}
}

// TestSendTooLargeForTheTopicFails checks that Send reports a native error
// reachable with ErrorAs when the broker refuses the records.
func TestSendTooLargeForTheTopicFails(t *testing.T) {
	c := startCluster(t)
	ctx := t.Context()
	cl := mustClient(t, c.addr())
	adm := kadm.NewClient(cl)
	small := "1000"
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &small}, "small"); err != nil {
		t.Fatal(err)
	}
	// A body the topic refuses although the handle's limit lets it pass.
	p := producerOn(t, cl, "small", &TopicOptions{MaxBodySize: 100000})
	body := make([]byte, 5000)
	_, _ = rand.Read(body) // incompressible
	err := p.Send(ctx, &mq.Message{Body: body})
	var ke *kerr.Error
	switch {
	case err == nil:
		t.Fatal("Send of 5000 bytes to a topic taking 1000 succeeded")
	case !p.ErrorAs(err, &ke):
		t.Errorf("ErrorAs(**kerr.Error) found nothing in %v", err)
	case mq.Code(err) != mq.InvalidArgument:
		t.Errorf("Send = %v (code %v), want InvalidArgument", err, mq.Code(err))
	}
}

// producerOn opens a Producer on topic through the plain constructor,
// shut down when the test ends.
func producerOn(t *testing.T, cl *kgo.Client, topic string, o *TopicOptions) *mq.Producer {
	t.Helper()
	dt, err := OpenTopic(t.Context(), cl, topic, o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}
