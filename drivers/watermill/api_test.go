package watermill_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	wm "github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/portmq/portmq/drivers/watermill"
	"github.com/portmq/portmq/mq"
)

const wait = 10 * time.Second // for what must happen

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func topicName(t *testing.T) string {
	return strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + wm.NewShortUUID()
}

func openSub(t *testing.T, u string) *mq.Subscription {
	t.Helper()
	s, err := mq.OpenSubscription(ctxFor(t), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func openProducer(t *testing.T, u string) *mq.Producer {
	t.Helper()
	p, err := mq.OpenProducer(ctxFor(t), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// A portmq message reaches Watermill code reading the same GoChannel with
// its ID as UUID, its attributes as metadata and Key and DedupID in the
// driver's entries; a message Watermill code published reaches portmq
// with its UUID as ID.
func TestMessagesCrossBetweenPortmqAndWatermill(t *testing.T) {
	topic := topicName(t)
	ctx := ctxFor(t)
	// Watermill code on the same GoChannel.
	wch, err := testGoChannel.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	sub := openSub(t, "watermill+gctest://"+topic+"?subscription=billing")
	p := openProducer(t, "watermill+gctest://"+topic)
	m := &mq.Message{Body: []byte("order 1"), Attributes: map[string]string{"a": "1"}, Key: "k", DedupID: "d"}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	select {
	case wmsg := <-wch:
		wmsg.Ack()
		if wmsg.UUID != m.ID || string(wmsg.Payload) != "order 1" || wmsg.Metadata.Get("a") != "1" || wmsg.Metadata.Get(watermill.AttrKey) != "k" || wmsg.Metadata.Get(watermill.AttrDedupID) != "d" {
			t.Errorf("Watermill got UUID %s payload %q metadata %v; portmq sent ID %s", wmsg.UUID, wmsg.Payload, wmsg.Metadata, m.ID)
		}
	case <-ctx.Done():
		t.Fatal("Watermill code received nothing")
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var native *message.Message
	if d.ID != m.ID || d.Key != "k" || d.DedupID != "d" || len(d.Attributes) != 1 || d.PublishedAt.IsZero() || !d.As(&native) || native.UUID != m.ID {
		t.Errorf("portmq got ID %s key %q dedup %q attributes %v published %v", d.ID, d.Key, d.DedupID, d.Attributes, d.PublishedAt)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}

	// From Watermill code to portmq.
	foreign := message.NewMessage(wm.NewUUID(), []byte("from watermill"))
	foreign.Metadata.Set("x", "y")
	if err := testGoChannel.Publish(topic, foreign); err != nil {
		t.Fatal(err)
	}
	d, err = sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != foreign.UUID || string(d.Body) != "from watermill" || d.Attributes["x"] != "y" || len(d.Attributes) != 1 || d.Attempt != 1 {
		t.Errorf("portmq got ID %s body %q attributes %v attempt %d", d.ID, d.Body, d.Attributes, d.Attempt)
	}
	_ = d.Ack()
	select { // the Watermill subscriber's copy
	case wmsg := <-wch:
		wmsg.Ack()
	case <-ctx.Done():
	}
	var pub message.Publisher
	if !p.As(&pub) || pub == nil {
		t.Error("Producer.As(*message.Publisher) = false")
	}
	var ms message.Subscriber
	if !sub.As(&ms) || ms == nil {
		t.Error("Subscription.As(*message.Subscriber) = false")
	}
}

// DeadLetter moves the message to the dead_letter topic (mq publishes it
// there with the dead-letter metadata, then acks).
func TestDeadLetterPublishesToDeadLetterTopic(t *testing.T) {
	topic := topicName(t)
	ctx := ctxFor(t)
	dlq := openSub(t, "watermill+gctest://"+topic+".dlq?subscription=dlq")
	sub := openSub(t, "watermill+gctest://"+topic+"?subscription=billing&dead_letter="+topic+".dlq")
	if !sub.Info().HasDeadLetter {
		t.Error("Info().HasDeadLetter = false with dead_letter")
	}
	p := openProducer(t, "watermill+gctest://"+topic)
	m := &mq.Message{Body: []byte("poison"), Attributes: map[string]string{"a": "1"}}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DeadLetter("unparseable"); err != nil {
		t.Fatal(err)
	}
	dl, err := dlq.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = dl.Ack()
	if string(dl.Body) != "poison" || dl.Attributes["a"] != "1" || dl.Attributes[mq.AttrDeadLetterReason] != "unparseable" || dl.Attributes[mq.AttrSource] != "billing" {
		t.Errorf("dead letter %q attributes %v", dl.Body, dl.Attributes)
	}
	// Without dead_letter, DeadLetter is unsupported.
	other := openSub(t, "watermill+gctest://"+topic+"?subscription=other")
	if err := p.Send(ctx, &mq.Message{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	d, err = other.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DeadLetter("x"); mq.Code(err) != mq.Unsupported {
		t.Errorf("DeadLetter without dead_letter = %v, want Unsupported", err)
	}
}

// oneShotSubscriber cancels its first Subscribe after one message, as a
// Watermill subscriber whose connection ended does; later Subscribe calls
// last.
type oneShotSubscriber struct {
	g     *gochannel.GoChannel
	again chan struct{} // closed by the second Subscribe
	mu    sync.Mutex
	calls int
}

func (s *oneShotSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	if !first {
		ch, err := s.g.Subscribe(ctx, topic)
		s.mu.Lock()
		if s.calls == 2 {
			close(s.again)
		}
		s.mu.Unlock()
		return ch, err
	}
	ctx, cancel := context.WithCancel(ctx)
	in, err := s.g.Subscribe(ctx, topic)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		defer cancel()
		m, ok := <-in
		if ok {
			out <- m
			<-m.Acked()
		}
	}()
	return out, nil
}
func (*oneShotSubscriber) Close() error { return nil }

// A Subscribe channel that the Watermill subscriber closes is Unavailable
// once; the driver subscribes again and mq (which retries Unavailable
// receives) keeps delivering.
func TestClosedChannelIsUnavailableAndResubscribed(t *testing.T) {
	g := gochannel.NewGoChannel(gochannel.Config{}, wm.NopLogger{})
	defer g.Close()
	topic := topicName(t)
	ws := &oneShotSubscriber{g: g, again: make(chan struct{})}
	ds, err := watermill.NewSubscription(ws, topic, &watermill.SubscriptionOptions{Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Shutdown(context.Background())
	dt, err := watermill.NewTopic(g, topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := mq.NewProducer(dt)
	var gc *gochannel.GoChannel
	if !p.As(&gc) || gc != g {
		t.Error("Producer.As(**gochannel.GoChannel) does not give NewTopic's publisher")
	}
	ctx := ctxFor(t)
	if err := p.Send(ctx, &mq.Message{Body: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	d, err := sub.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Ack()
	// The first channel closes after that ack; wait for the second
	// Subscribe before sending, since a GoChannel drops messages sent
	// while nobody subscribes.
	rcv := make(chan *mq.Delivery, 1)
	go func() {
		d, err := sub.Receive(ctx)
		if err != nil {
			t.Error(err)
			rcv <- nil
			return
		}
		rcv <- d
	}()
	select {
	case <-ws.again:
	case <-ctx.Done():
		t.Fatal("the driver did not subscribe again")
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if d := <-rcv; d == nil || string(d.Body) != "2" {
		t.Fatalf("after resubscribing got %v", d)
	} else {
		_ = d.Ack()
	}
	// The producer owns the GoChannel now (NewTopic takes it over).
	_ = p.Shutdown(context.Background())
}

func TestURLErrors(t *testing.T) {
	ctx := ctxFor(t)
	for _, u := range []string{
		"watermill+gctest://t",                        // no subscription
		"watermill+gctest://t?subscription=s&bogus=1", // unknown parameter
		"watermill+gctest://?subscription=s",          // no topic
		"watermill+gctest://t?subscription=s&visibility=-1s",
	} {
		if _, err := mq.OpenSubscription(ctx, u); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("OpenSubscription(%q) = %v, want InvalidArgument", u, err)
		}
	}
	if _, err := mq.OpenProducer(ctx, "watermill+gctest://t?subscription=s"); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("producer with subscription = %v, want InvalidArgument", err)
	}
	if !mq.DefaultURLMux().ValidScheme("watermill+gochannel") {
		t.Error("watermill+gochannel is not registered")
	}
}

func TestRegisterPanicsOnProgrammerErrors(t *testing.T) {
	for name, f := range map[string]func(){
		"twice":           func() { watermill.Register("gctest", watermill.GoChannel(testGoChannel)) },
		"no constructors": func() { watermill.Register("portmq-test-empty", watermill.Backend{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestNewTopicAndSubscriptionRejectBadArguments(t *testing.T) {
	if _, err := watermill.NewTopic(nil, "t", nil); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("NewTopic(nil) = %v", err)
	}
	if _, err := watermill.NewSubscription(testGoChannel, "", nil); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("NewSubscription without a topic = %v", err)
	}
	if _, err := watermill.NewSubscription(testGoChannel, "t", &watermill.SubscriptionOptions{DeadLetterTopic: "x"}); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("NewSubscription with a DeadLetterTopic and no DeadLetter = %v", err)
	}
}
