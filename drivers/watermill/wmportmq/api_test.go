package wmportmq_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/drivers/watermill/wmportmq"
	"github.com/portmq/portmq/mq"
)

const wait = 10 * time.Second // for what must happen

// name returns a topic name no other test uses.
func name(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + watermill.NewShortUUID()
}

func next(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return m
	case <-time.After(wait):
		t.Fatal("no message")
	}
	return nil
}

func subscriber(t *testing.T, tmpl string, cfg *wmportmq.SubscriberConfig) *wmportmq.Subscriber {
	t.Helper()
	s, err := wmportmq.NewSubscriber(tmpl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func publisher(t *testing.T, tmpl string) *wmportmq.Publisher {
	t.Helper()
	p, err := wmportmq.NewPublisher(tmpl, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Metadata travels as attributes: 31 entries fit beside the UUID; more,
// or a key or value over portmq's limits, fail the whole Publish with
// InvalidArgument and send nothing.
func TestPublishWithinAndBeyondAttributeLimits(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", nil)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, "mem://{topic}")

	withMetadata := func(n int, k, v string) *message.Message {
		m := message.NewMessage(watermill.NewUUID(), []byte("x"))
		for i := range n {
			m.Metadata.Set("k"+strconv.Itoa(i), "v")
		}
		if k != "" {
			m.Metadata.Set(k, v)
		}
		return m
	}
	for name, m := range map[string]*message.Message{
		"32 metadata entries":          withMetadata(32, "", ""),
		"a key of 129 bytes":           withMetadata(0, strings.Repeat("k", 129), "v"),
		"a value of 4097 bytes":        withMetadata(0, "k", strings.Repeat("v", 4097)),
		"an entry named like the UUID": withMetadata(0, wmportmq.UUIDAttribute, "v"),
		"a reserved portmq- key":       withMetadata(0, "portmq-x", "v"),
	} {
		// A good message first in the same call: it must not be sent either.
		err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("not sent")), m)
		if mq.Code(err) != mq.InvalidArgument {
			t.Errorf("%s: Publish = %v, want InvalidArgument", name, err)
		}
	}
	if err := pub.Publish(topic, withMetadata(31, "", "")); err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	m := next(t, ch)
	m.Ack()
	if string(m.Payload) != "x" || len(m.Metadata) != 31 {
		t.Errorf("received %q with %d metadata entries, want the one with 31 (nothing else was sent)", m.Payload, len(m.Metadata))
	}
}

// The UUID, payload and metadata survive; the portmq delivery is
// reachable from the message, with the attempt count.
func TestRoundTripAndDelivery(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", nil)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, "mem://{topic}")
	sent := message.NewMessage(watermill.NewUUID(), []byte{0, 1, 2, 255})
	sent.Metadata.Set("trace", "abc")
	if err := pub.Publish(topic, sent); err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	m := next(t, ch)
	d, ok := wmportmq.Delivery(m)
	if !ok {
		t.Fatal("Delivery(received message) = false")
	}
	if m.UUID != sent.UUID || string(m.Payload) != string(sent.Payload) || len(m.Metadata) != 1 || m.Metadata.Get("trace") != "abc" {
		t.Errorf("received UUID %s payload %v metadata %v; sent %s %v %v", m.UUID, m.Payload, m.Metadata, sent.UUID, sent.Payload, sent.Metadata)
	}
	if d.Attempt != 1 || d.ID == "" || d.Attributes[wmportmq.UUIDAttribute] != sent.UUID {
		t.Errorf("delivery attempt %d ID %q attributes %v", d.Attempt, d.ID, d.Attributes)
	}
	m.Ack()
	select {
	case <-m.Context().Done():
	case <-time.After(wait):
		t.Error("the message's context did not end after Ack")
	}
	if _, ok := wmportmq.Delivery(message.NewMessage("x", nil)); ok {
		t.Error("Delivery(a message not from a Subscriber) = true")
	}
}

// Nack redelivers after the configured backoff, with Attempt + 1; at max
// attempts the message is dead-lettered (portmq's dead-lettering instead
// of Watermill's poison queue).
func TestNackBacksOffThenDeadLettersAtMaxAttempts(t *testing.T) {
	topic := name(t)
	const backoff = 300 * time.Millisecond
	sub := subscriber(t, "mem://{topic}/{group}?max_attempts=2&dead_letter={topic}.dlq", &wmportmq.SubscriberConfig{Backoff: mq.Backoff{Min: backoff, Max: backoff}})
	dlq := subscriber(t, "mem://{topic}.dlq/{group}", nil)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	if err := dlq.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, "mem://{topic}")
	if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("poison"))); err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	m1 := next(t, ch)
	nacked := time.Now()
	m1.Nack()
	m2 := next(t, ch)
	// Backoff jitters between half the step and the step.
	if got := time.Since(nacked); got < backoff/2 {
		t.Errorf("redelivered %v after Nack, want at least %v", got, backoff/2)
	}
	d2, _ := wmportmq.Delivery(m2)
	if m2.UUID != m1.UUID || d2 == nil || d2.Attempt != 2 {
		t.Fatalf("redelivery %s (first %s), delivery %+v; want the same UUID at attempt 2", m2.UUID, m1.UUID, d2)
	}
	m2.Nack() // the last attempt
	dch, err := dlq.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	dl := next(t, dch)
	dl.Ack()
	if dl.UUID != m1.UUID || string(dl.Payload) != "poison" || dl.Metadata.Get(mq.AttrAttempts) != "2" || !strings.Contains(dl.Metadata.Get(mq.AttrDeadLetterReason), "max attempts") {
		t.Errorf("dead letter %s %q metadata %v", dl.UUID, dl.Payload, dl.Metadata)
	}
}

// DeadLetter through the delivery moves the message at once; the
// Watermill Ack that follows does nothing.
func TestDeadLetterThroughDelivery(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}?dead_letter={topic}.dlq", nil)
	dlq := subscriber(t, "mem://{topic}.dlq/{group}", nil)
	for _, s := range []*wmportmq.Subscriber{sub, dlq} {
		if err := s.SubscribeInitialize(topic); err != nil {
			t.Fatal(err)
		}
	}
	pub := publisher(t, "mem://{topic}")
	if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("bad"))); err != nil {
		t.Fatal(err)
	}
	ch, _ := sub.Subscribe(context.Background(), topic)
	m := next(t, ch)
	d, _ := wmportmq.Delivery(m)
	if err := d.Extend(time.Minute); err != nil {
		t.Errorf("Extend: %v", err)
	}
	if err := d.DeadLetter("unparseable"); err != nil {
		t.Fatal(err)
	}
	m.Ack()
	dch, _ := dlq.Subscribe(context.Background(), topic)
	dl := next(t, dch)
	dl.Ack()
	if dl.UUID != m.UUID || dl.Metadata.Get(mq.AttrDeadLetterReason) != "unparseable" {
		t.Errorf("dead letter %s metadata %v", dl.UUID, dl.Metadata)
	}
}

// With the default Concurrency of 1, a Subscribe channel hands out the
// next message only after the previous one was settled (Watermill's
// convention, which Watermill's suite checks only for ordered Pub/Subs).
func TestOneMessageOutAtATime(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", nil)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, "mem://{topic}")
	for range 2 {
		if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), nil)); err != nil {
			t.Fatal(err)
		}
	}
	ch, _ := sub.Subscribe(context.Background(), topic)
	m1 := next(t, ch)
	select {
	case m := <-ch:
		t.Fatalf("second message %s handed out while the first is not settled", m.UUID)
	case <-time.After(200 * time.Millisecond):
	}
	m1.Ack()
	next(t, ch).Ack()
}

// A consumer group is a subscription of one topic: the same group on two
// topics never merges their messages. (Where subscription names are
// global, as RabbitMQ's queues, the backend refuses the second topic
// instead; see TestConsumerGroupOnTwoTopicsOverRabbitMQ.)
func TestConsumerGroupOnTwoTopicsIsNotMerged(t *testing.T) {
	checkGroupOnTwoTopics(t, "mem://{topic}", "mem://{topic}/{group}", name(t))
}

func checkGroupOnTwoTopics(t *testing.T, pubURL, subURL, prefix string) {
	ctx := context.Background()
	a, b := prefix+"-a", prefix+"-b"
	cfg := &wmportmq.SubscriberConfig{ConsumerGroup: prefix + "-billing"}
	sa, sb := subscriber(t, subURL, cfg), subscriber(t, subURL, cfg)
	if err := sa.SubscribeInitialize(a); err != nil {
		t.Fatal(err)
	}
	if err := sb.SubscribeInitialize(b); err != nil {
		if c := mq.Code(err); c == mq.FailedPrecondition || c == mq.AlreadyExists {
			t.Logf("the backend refuses the group's name on a second topic: %v", err)
			return
		}
		t.Fatal(err)
	}
	pub := publisher(t, pubURL)
	if err := pub.Publish(a, message.NewMessage("for-a", nil)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(b, message.NewMessage("for-b", nil)); err != nil {
		t.Fatal(err)
	}
	cha, err := sa.Subscribe(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	chb, err := sb.Subscribe(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	// Each topic's message arrives on its own channel, and nothing else
	// follows: a merged queue would hand one of them to the other topic.
	for _, c := range []struct {
		ch   <-chan *message.Message
		want string
	}{{cha, "for-a"}, {chb, "for-b"}} {
		m := next(t, c.ch)
		m.Ack()
		if m.UUID != c.want {
			t.Errorf("got %s, want %s: the group's subscriptions of two topics are merged", m.UUID, c.want)
		}
	}
	for _, ch := range []<-chan *message.Message{cha, chb} {
		select {
		case m := <-ch:
			t.Errorf("extra message %s: the group's subscriptions of two topics are merged", m.UUID)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Closing ends every Subscribe channel and cancels the contexts of the
// messages out; later calls fail with Closed.
func TestCloseEndsChannelsAndRefusesLaterCalls(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", nil)
	pub := publisher(t, "mem://{topic}")
	ch, err := sub.Subscribe(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), nil)); err != nil {
		t.Fatal(err)
	}
	m := next(t, ch)
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Error("channel open after Close")
	}
	if m.Context().Err() == nil {
		t.Error("the context of a message out is not canceled by Close")
	}
	m.Ack() // does nothing: the message went back at Close
	if _, err := sub.Subscribe(context.Background(), topic); mq.Code(err) != mq.Closed {
		t.Errorf("Subscribe after Close = %v, want Closed", err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), nil)); mq.Code(err) != mq.Closed {
		t.Errorf("Publish after Close = %v, want Closed", err)
	}
	if err := sub.Close(); err != nil || pub.Close() != nil {
		t.Error("second Close failed")
	}
	// The message handed back at Close comes again.
	sub2 := subscriber(t, "mem://{topic}/{group}", nil)
	ch2, _ := sub2.Subscribe(context.Background(), topic)
	if m2 := next(t, ch2); m2.UUID != m.UUID {
		t.Errorf("after Close got %s, want %s again", m2.UUID, m.UUID)
	} else {
		m2.Ack()
	}
}

func TestBadTemplatesAndConfigs(t *testing.T) {
	for _, tmpl := range []string{"mem://orders", "mem://{topic}/{grop}"} {
		if _, err := wmportmq.NewSubscriber(tmpl, nil); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("NewSubscriber(%q) = %v, want InvalidArgument", tmpl, err)
		}
	}
	if _, err := wmportmq.NewPublisher("mem://{topic}/{group}", nil); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("NewPublisher with {group} = %v, want InvalidArgument", err)
	}
	for name, cfg := range map[string]*wmportmq.SubscriberConfig{
		"negative concurrency": {Concurrency: -1},
		"backoff max < min":    {Backoff: mq.Backoff{Min: time.Second}},
	} {
		if _, err := wmportmq.NewSubscriber("mem://{topic}/{group}", cfg); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	// A URL the driver refuses fails Subscribe, and Publish, without the
	// password.
	sub := subscriber(t, "amqp://u:s3cret@127.0.0.1:1/?topic={topic}&subscription={group}&bogus=1", nil)
	_, err := sub.Subscribe(context.Background(), "t")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Subscribe with a bad URL = %v, want an error without the password", err)
	}
	pub := publisher(t, "amqp://u:s3cret@127.0.0.1:1/?topic={topic}&bogus=1")
	err = pub.Publish("t", message.NewMessage("1", nil))
	if err == nil || strings.Contains(err.Error(), "s3cret") || !errors.Is(err, mq.ErrInvalidArgument) {
		t.Errorf("Publish with a bad URL = %v, want InvalidArgument without the password", err)
	}
}

// With DrainTimeout, Close lets a message out be acked (a Router's handler
// finishing after the Router closed its subscriber): the ack counts, the
// message does not come again.
func TestCloseWithDrainTimeoutLetsOutMessagesBeAcked(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", &wmportmq.SubscriberConfig{DrainTimeout: wait})
	pub := publisher(t, "mem://{topic}")
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"out", "waiting"} {
		if err := pub.Publish(topic, message.NewMessage(id, nil)); err != nil {
			t.Fatal(err)
		}
	}
	ch, _ := sub.Subscribe(context.Background(), topic)
	m := next(t, ch)
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a message was out, before DrainTimeout", err)
	case <-time.After(100 * time.Millisecond):
	}
	m.Ack()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return after the message out was acked")
	}
	for range ch { // closed, nothing more was handed out
		t.Error("a message was handed out after Close began")
	}
	// Only the waiting message comes again.
	sub2 := subscriber(t, "mem://{topic}/{group}", nil)
	ch2, _ := sub2.Subscribe(context.Background(), topic)
	m2 := next(t, ch2)
	m2.Ack()
	if m2.UUID != "waiting" {
		t.Errorf("after Close got %s, want waiting (out was acked during the drain)", m2.UUID)
	}
	select {
	case m := <-ch2:
		t.Errorf("also got %s", m.UUID)
	case <-time.After(200 * time.Millisecond):
	}
}

// KeyMetadata makes a metadata entry the portmq Key; a nil message is
// refused.
func TestKeyMetadataAndNilMessage(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", nil)
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	pub, err := wmportmq.NewPublisher("mem://{topic}", &wmportmq.PublisherConfig{KeyMetadata: "customer"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(topic, nil); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("Publish(nil) = %v, want InvalidArgument", err)
	}
	m := message.NewMessage(watermill.NewUUID(), nil)
	m.Metadata.Set("customer", "c-42")
	if err := pub.Publish(topic, m); err != nil {
		t.Fatal(err)
	}
	ch, _ := sub.Subscribe(context.Background(), topic)
	got := next(t, ch)
	got.Ack()
	if d, _ := wmportmq.Delivery(got); d == nil || d.Key != "c-42" || got.Metadata.Get("customer") != "c-42" {
		t.Errorf("delivery %+v, metadata %v; want Key c-42 and the entry kept", d, got.Metadata)
	}
}

// A message the channel has not taken when Close starts is not waited for:
// with nothing out, Close returns without waiting for DrainTimeout.
func TestCloseDoesNotWaitForMessagesNotHandedOut(t *testing.T) {
	topic := name(t)
	sub := subscriber(t, "mem://{topic}/{group}", &wmportmq.SubscriberConfig{DrainTimeout: time.Hour})
	pub := publisher(t, "mem://{topic}")
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	ch, _ := sub.Subscribe(context.Background(), topic)
	for _, id := range []string{"first", "pending"} {
		if err := pub.Publish(topic, message.NewMessage(id, nil)); err != nil {
			t.Fatal(err)
		}
	}
	next(t, ch).Ack() // "pending" is now offered on the channel, not taken
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close waited for a message the channel never took")
	}
}

// Provision runs before a topic's first open: AlreadyExists is success,
// another error fails the call and Provision runs again next time.
func TestProvisionRunsBeforeFirstOpen(t *testing.T) {
	topic := name(t)
	var calls []string
	fail := true
	pub, err := wmportmq.NewPublisher("mem://{topic}", &wmportmq.PublisherConfig{Provision: func(_ context.Context, tp string) error {
		calls = append(calls, "pub "+tp)
		if fail {
			fail = false
			return &mq.Error{Code: mq.Unavailable, Msg: "admin down"}
		}
		return mq.ErrAlreadyExists
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub := subscriber(t, "mem://{topic}/{group}", &wmportmq.SubscriberConfig{ConsumerGroup: "g", Provision: func(_ context.Context, tp, group string) error {
		calls = append(calls, "sub "+tp+" "+group)
		return nil
	}})
	if err := sub.SubscribeInitialize(topic); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, message.NewMessage("1", nil)); mq.Code(err) != mq.Unavailable {
		t.Errorf("Publish with a failing Provision = %v, want its Unavailable", err)
	}
	for range 2 {
		if err := pub.Publish(topic, message.NewMessage("1", nil)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"sub " + topic + " g", "pub " + topic, "pub " + topic}
	if strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Errorf("Provision calls %q, want %q", calls, want)
	}
}
