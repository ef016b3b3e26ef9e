package sns_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
)

// tenv is one test's view of the server: raw SDK clients and an admin.
type tenv struct {
	t     *testing.T
	srv   *sqstest.Server
	sns   *awssns.Client
	sqs   *awssqs.Client
	admin *mq.Admin
}

func newEnv(t *testing.T) *tenv {
	t.Helper()
	srv := sqstest.Shared(t)
	ctx := context.Background()
	cfg := srv.Config(t)
	a, err := mq.OpenAdmin(ctx, "sns://?"+srv.Query())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return &tenv{t: t, srv: srv, sns: awssns.NewFromConfig(cfg), sqs: awssqs.NewFromConfig(cfg), admin: a}
}

func (e *tenv) name(suffix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(e.t.Name()))
	if len(n) > 50 {
		n = n[:50]
	}
	return n + "-" + hex.EncodeToString(b[:]) + suffix
}

// topic creates a topic with n subscriptions (queues) and removes them
// when the test ends.
func (e *tenv) topic(fifo bool, n int) (string, []string) {
	e.t.Helper()
	suffix := ""
	if fifo {
		suffix = ".fifo"
	}
	ctx := context.Background()
	topic := e.name(suffix)
	if err := e.admin.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
		e.t.Fatalf("CreateTopic: %v", err)
	}
	e.t.Cleanup(func() { _ = e.admin.DeleteTopic(context.Background(), topic) })
	var queues []string
	for i := range n {
		q := e.name(fmt.Sprintf("-%d%s", i, suffix))
		if err := e.admin.CreateSubscription(ctx, topic, q, mq.SubscriptionConfig{Lease: 30 * time.Second, Ordered: fifo}); err != nil {
			e.t.Fatalf("CreateSubscription: %v", err)
		}
		e.t.Cleanup(func() { _ = e.admin.DeleteSubscription(context.Background(), topic, q) })
		queues = append(queues, q)
	}
	return topic, queues
}

func (e *tenv) producer(topic string) *mq.Producer {
	e.t.Helper()
	p, err := mq.OpenProducer(context.Background(), "sns://"+topic+"?"+e.srv.Query())
	if err != nil {
		e.t.Fatalf("OpenProducer: %v", err)
	}
	e.t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func (e *tenv) sub(topic, queue string) *mq.Subscription {
	e.t.Helper()
	s, err := mq.OpenSubscription(context.Background(), "sns://"+topic+"/"+queue+"?"+e.srv.Query()+"&wait=1s")
	if err != nil {
		e.t.Fatalf("OpenSubscription: %v", err)
	}
	e.t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// TestFanOutDeliversEveryMessageToEverySubscription sends messages of
// every shape to a topic with two subscriptions: each gets every one,
// with body, attributes, Key and ID intact.
func TestFanOutDeliversEveryMessageToEverySubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic, queues := e.topic(false, 2)
	p := e.producer(topic)
	many := map[string]string{}
	for i := range 32 {
		many[fmt.Sprintf("ключ %d", i)] = fmt.Sprintf("значение %d ✓", i)
	}
	binary := make([]byte, 2000)
	_, _ = rand.Read(binary)
	msgs := []*mq.Message{
		{Body: []byte("plain text"), Attributes: map[string]string{"kind": "order", "n": "1"}},
		{Body: binary, Key: "customer-7"},
		{Body: nil, Attributes: many, Key: "ключ 🔑"},
		{Body: []byte("crlf\r\nand\ttab"), DedupID: "d-1"},
		{Body: []byte{0, 1, 2}, Attributes: map[string]string{"empty": ""}},
	}
	if err := p.SendBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	byID := map[string]*mq.Message{}
	for _, m := range msgs {
		if m.ID == "" || byID[m.ID] != nil {
			t.Fatalf("message %q has ID %q (empty or repeated)", m.Body, m.ID)
		}
		byID[m.ID] = m
	}
	for _, q := range queues {
		s := e.sub(topic, q)
		if s.Info().Name != topic+"/"+q {
			t.Errorf("Info().Name = %q, want %s/%s", s.Info().Name, topic, q)
		}
		seen := map[string]bool{}
		for range msgs {
			d := sqstest.Recv(t, s)
			m := byID[d.ID]
			switch {
			case m == nil || seen[d.ID]:
				t.Errorf("%s: received unknown or repeated ID %s", q, d.ID)
			case !bytes.Equal(d.Body, m.Body):
				t.Errorf("%s: body of %d bytes arrived as %d bytes", q, len(m.Body), len(d.Body))
			case !maps.Equal(d.Attributes, m.Attributes) && len(d.Attributes)+len(m.Attributes) > 0:
				t.Errorf("%s: attributes %v arrived as %v", q, m.Attributes, d.Attributes)
			case d.Key != m.Key || d.DedupID != m.DedupID:
				t.Errorf("%s: Key %q DedupID %q arrived as %q %q", q, m.Key, m.DedupID, d.Key, d.DedupID)
			}
			seen[d.ID] = true
			if err := d.Ack(); err != nil {
				t.Error(err)
			}
		}
		sqstest.None(t, s, 2*time.Second)
	}
}

// TestFIFOTopic checks, on both queues of a FIFO topic, order per message
// group and that a repeated DedupID within the window is dropped.
func TestFIFOTopic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic, queues := e.topic(true, 2)
	p := e.producer(topic)
	ctx := context.Background()
	var msgs []*mq.Message
	for i := range 5 {
		for _, k := range []string{"a", "b"} {
			msgs = append(msgs, &mq.Message{Body: []byte(fmt.Sprintf("%s/%d", k, i)), Key: k, DedupID: fmt.Sprintf("%s-%d", k, i)})
		}
	}
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("a/duplicate"), Key: "a", DedupID: "a-1"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range queues {
		s := e.sub(topic, q)
		if !s.Info().Ordered || !p.Capabilities().Dedup.Has() {
			t.Errorf("FIFO topic: subscription info %+v, producer capabilities %v", s.Info(), p.Capabilities())
		}
		next := map[string]int{}
		for range msgs {
			d := sqstest.Recv(t, s)
			k, n, _ := strings.Cut(string(d.Body), "/")
			if want := fmt.Sprint(next[k]); n != want || d.Key != k {
				t.Errorf("%s: received %q (Key %q), want %s/%s next", q, d.Body, d.Key, k, want)
			}
			next[k]++
			if err := d.Ack(); err != nil {
				t.Error(err)
			}
		}
		sqstest.None(t, s, 2*time.Second)
	}
}

func TestOpenChecksTopicAndSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	topic, queues := e.topic(false, 1)
	if _, err := mq.OpenProducer(ctx, "sns://"+e.name("")+"?"+e.srv.Query()); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("OpenProducer of a missing topic: %v, want NotFound", err)
	}
	other, _ := e.topic(false, 0)
	if _, err := mq.OpenSubscription(ctx, "sns://"+other+"/"+queues[0]+"?"+e.srv.Query()); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("OpenSubscription of a queue not subscribed to the topic: %v, want NotFound", err)
	}
	// A queue subscribed without raw message delivery.
	q := e.name("")
	out, err := e.sqs.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(q)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.sqs.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
	})
	attrs, err := e.sqs.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	topicArn := topicARN(t, e, topic)
	if _, err := e.sns.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topicArn), Protocol: aws.String("sqs"), Endpoint: aws.String(attrs.Attributes["QueueArn"])}); err != nil {
		t.Fatal(err)
	}
	if _, err := mq.OpenSubscription(ctx, "sns://"+topic+"/"+q+"?"+e.srv.Query()); !errors.Is(err, mq.ErrFailedPrecondition) || !strings.Contains(err.Error(), "raw") {
		t.Errorf("OpenSubscription of a subscription without raw delivery: %v, want FailedPrecondition", err)
	}
}

func topicARN(t *testing.T, e *tenv, name string) string {
	t.Helper()
	out, err := e.sns.CreateTopic(context.Background(), &awssns.CreateTopicInput{Name: aws.String(name)}) // idempotent: returns the ARN
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TopicArn)
}

func TestBadURLsAreInvalidArgument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const secret = "hunter2-secret"
	for _, u := range []string{"sns://t/q", "sns://", "sns://bad%20name", "sns://t?wait=1s", "sns://t?bogus=1", "sns://user:" + secret + "@t",
		"sns://t?endpoint=" + url.QueryEscape("http://user:"+secret+"@127.0.0.1:1")} {
		if _, err := mq.OpenProducer(ctx, u); mq.Code(err) != mq.InvalidArgument || strings.Contains(fmt.Sprint(err), secret) {
			t.Errorf("OpenProducer(%s): %v, want InvalidArgument without the password", u, err)
		}
	}
	for _, u := range []string{"sns://t", "sns://t/q/r", "sns://t/bad%20q", "sns://t/q?wait=0s", "sns://t/q?bogus=1"} {
		if _, err := mq.OpenSubscription(ctx, u); mq.Code(err) != mq.InvalidArgument {
			t.Errorf("OpenSubscription(%s): %v, want InvalidArgument", u, err)
		}
	}
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.admin
	want := func(what string, err error, sentinel error) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: %v (code %v), want %v", what, err, mq.Code(err), sentinel)
		}
	}
	topic, queues := e.topic(false, 1)
	fifo, _ := e.topic(true, 0)
	want("CreateTopic twice", a.CreateTopic(ctx, topic, mq.TopicConfig{}), mq.ErrAlreadyExists)
	want("dedup on a standard topic", a.CreateTopic(ctx, e.name(""), mq.TopicConfig{DedupWindow: time.Minute}), mq.ErrInvalidArgument)
	want("bad topic name", a.CreateTopic(ctx, "no spaces", mq.TopicConfig{}), mq.ErrInvalidArgument)
	want("subscription of a missing topic", a.CreateSubscription(ctx, e.name(""), e.name(""), mq.SubscriptionConfig{}), mq.ErrNotFound)
	want("existing queue", a.CreateSubscription(ctx, topic, queues[0], mq.SubscriptionConfig{}), mq.ErrAlreadyExists)
	want("standard queue on a FIFO topic", a.CreateSubscription(ctx, fifo, e.name(""), mq.SubscriptionConfig{}), mq.ErrInvalidArgument)
	want("ordered on a standard topic", a.CreateSubscription(ctx, topic, e.name(""), mq.SubscriptionConfig{Ordered: true}), mq.ErrInvalidArgument)
	want("unsubscribed queue", a.DeleteSubscription(ctx, topic, e.name("")), mq.ErrNotFound)
	want("DeleteTopic of a missing topic", a.DeleteTopic(ctx, e.name("")), mq.ErrNotFound)
	if err := a.DeleteSubscription(ctx, topic, queues[0]); err != nil {
		t.Errorf("DeleteSubscription: %v", err)
	}
	want("DeleteSubscription twice", a.DeleteSubscription(ctx, topic, queues[0]), mq.ErrNotFound)
	var sc *awssns.Client
	var qc *awssqs.Client
	if !a.As(&sc) || !a.As(&qc) {
		t.Errorf("Admin.As(**sns.Client / **sqs.Client) failed")
	}
	p := e.producer(topic)
	if !p.As(&sc) || sc == nil {
		t.Errorf("Producer.As(**sns.Client) failed")
	}
}
