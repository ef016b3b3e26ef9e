package sqs_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func TestBadURLsAreInvalidArgument(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	ctx := context.Background()
	producers := []string{
		"sqs://",
		"sqs://q/extra-path",
		"sqs://bad%20name",
		"sqs://" + strings.Repeat("q", 81),
		"sqs://user:" + secret + "@q",
		"sqs://q?endpoint=" + url.QueryEscape("http://user:"+secret+"@127.0.0.1:1"),
		"sqs://q?bogus=1",
		"sqs://q?wait=5s", // a subscription parameter
		"sqs://q?owner=12345",
		"sqs://q?region=a&region=a",
		"sqs://q#frag",
	}
	subs := []string{
		"sqs://q?wait=0s",
		"sqs://q?wait=21s",
		"sqs://q?visibility=0s",
		"sqs://q?visibility=13h",
		"sqs://q?visibility=later",
		"sqs://user:" + secret + "@q?wait=1s",
		"sqs://q/path",
	}
	check := func(u string, err error) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s: opened, want an error", u)
		case mq.Code(err) != mq.InvalidArgument:
			t.Errorf("%s: %v (code %v), want InvalidArgument", u, err, mq.Code(err))
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: error %q holds the password", u, err)
		}
	}
	for _, u := range producers {
		_, err := mq.OpenProducer(ctx, u)
		check(u, err)
	}
	for _, u := range subs {
		_, err := mq.OpenSubscription(ctx, u)
		check(u, err)
	}
	if _, err := mq.OpenAdmin(ctx, "sqs://?wait=1s"); mq.Code(err) != mq.InvalidArgument {
		t.Errorf("admin URL with a subscription parameter: %v", err)
	}
}

func TestOpenMissingQueueIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := e.name("")
	for what, open := range map[string]func() error{
		"OpenProducer":     func() error { _, err := mq.OpenProducer(context.Background(), e.url(missing)); return err },
		"OpenSubscription": func() error { _, err := mq.OpenSubscription(context.Background(), e.url(missing)); return err },
	} {
		err := open()
		if !errors.Is(err, mq.ErrNotFound) {
			t.Errorf("%s of a missing queue: %v (code %v), want NotFound", what, err, mq.Code(err))
		}
		var qdne *sqstypes.QueueDoesNotExist
		if !errors.As(err, &qdne) {
			t.Errorf("%s: the SDK's QueueDoesNotExist is not reachable with errors.As: %v", what, err)
		}
	}
}

// TestNativeAttributesAreReadableByOtherConsumers reads with the raw SDK
// what portmq sent: a text body and up to 10 attributes travel as they
// are.
func TestNativeAttributesAreReadableByOtherConsumers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	u := e.queue(q, nil)
	p := e.producer(q)
	attrs := map[string]string{}
	for i := range 10 {
		attrs[fmt.Sprintf("attr.%d", i)] = fmt.Sprintf("value ✓ %d", i)
	}
	if err := p.Send(context.Background(), &mq.Message{Body: []byte(`{"order": 7}`), Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	out, err := e.c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(u), MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 5})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("raw ReceiveMessage: %v, %d messages", err, len(out.Messages))
	}
	m := out.Messages[0]
	got := map[string]string{}
	for k, v := range m.MessageAttributes {
		if aws.ToString(v.DataType) != "String" {
			t.Errorf("attribute %s has type %s", k, aws.ToString(v.DataType))
		}
		got[k] = aws.ToString(v.StringValue)
	}
	if aws.ToString(m.Body) != `{"order": 7}` || !maps.Equal(got, attrs) {
		t.Errorf("a raw consumer sees body %q and attributes %v; sent %v", aws.ToString(m.Body), got, attrs)
	}
}

// TestOtherProducersMessagesAreRead sends with the raw SDK and receives
// with portmq: String, Number and Binary attributes, and on a FIFO queue
// the group and deduplication IDs as Key and DedupID.
func TestOtherProducersMessagesAreRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, fifo := range []bool{false, true} {
		q := e.name("")
		var attrs map[string]string
		if fifo {
			q += ".fifo"
			attrs = map[string]string{"FifoQueue": "true"}
		}
		u := e.queue(q, attrs)
		in := &awssqs.SendMessageInput{
			QueueUrl:    aws.String(u),
			MessageBody: aws.String("from elsewhere ✓"),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				"s": {DataType: aws.String("String"), StringValue: aws.String("text")},
				"n": {DataType: aws.String("Number"), StringValue: aws.String("-12.5")},
				"b": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 0xff, 7}},
			},
		}
		if fifo {
			in.MessageGroupId, in.MessageDeduplicationId = aws.String("customer-1"), aws.String("event-9")
		}
		out, err := e.c.SendMessage(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		d := sqstest.Recv(t, e.sub(q))
		want := map[string]string{"s": "text", "n": "-12.5", "b": base64.StdEncoding.EncodeToString([]byte{0, 0xff, 7})}
		if string(d.Body) != "from elsewhere ✓" || !maps.Equal(d.Attributes, want) || d.ID != aws.ToString(out.MessageId) || d.Attempt != 1 || d.PublishedAt.IsZero() {
			t.Errorf("fifo %v: got body %q attributes %v ID %s attempt %d published %v", fifo, d.Body, d.Attributes, d.ID, d.Attempt, d.PublishedAt)
		}
		if fifo && (d.Key != "customer-1" || d.DedupID != "event-9") {
			t.Errorf("FIFO message has Key %q, DedupID %q; want the group and deduplication IDs", d.Key, d.DedupID)
		}
		if err := d.Ack(); err != nil {
			t.Error(err)
		}
	}
}

// TestMaximumMessageSizeIsReadFromTheQueue uses a queue that takes at
// most 1024 bytes.
func TestMaximumMessageSizeIsReadFromTheQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	e.queue(q, map[string]string{"MaximumMessageSize": "1024"})
	p := e.producer(q)
	if got, want := p.Capabilities().MaxBodySize, awsmq.MaxBinaryBody(1024, 0); got != want {
		t.Errorf("MaxBodySize = %d, want %d for a 1024-byte queue", got, want)
	}
	ctx := context.Background()
	fits := &mq.Message{Body: bytes.Repeat([]byte{0}, 750)} // 1000 bytes in base64
	if err := p.Send(ctx, fits); err != nil {
		t.Fatalf("a 750-byte binary body: %v", err)
	}
	over := &mq.Message{Body: bytes.Repeat([]byte("t"), 700), Attributes: map[string]string{"a": strings.Repeat("v", 330)}}
	good := &mq.Message{Body: []byte("good")}
	err := p.SendBatch(ctx, []*mq.Message{good, over})
	if mq.Code(err) != mq.InvalidArgument || !strings.Contains(err.Error(), "1024") {
		t.Errorf("a batch with a message over the queue's 1024 bytes: %v, want InvalidArgument naming the limit", err)
	}
	if good.ID != "" || over.ID != "" {
		t.Errorf("the batch was partly sent: IDs %q %q", good.ID, over.ID)
	}
	s := e.sub(q)
	d := sqstest.Recv(t, s)
	if d.ID != fits.ID {
		t.Errorf("received %s, want only the message that fits (%s)", d.ID, fits.ID)
	}
	_ = d.Ack()
	sqstest.None(t, s, 2*time.Second)
}

// TestAbandonedReceiveLosesNothing cancels receives while their long poll
// runs: the next receive gets what the poll brought, and Shutdown hands
// it back instead of leaving it hidden for the visibility timeout.
func TestAbandonedReceiveLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	e.queue(q, map[string]string{"VisibilityTimeout": "60"})
	p := e.producer(q)
	s := e.sub(q, "wait=20s")
	ctx := context.Background()

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	start := time.Now()
	_, err := s.Receive(cctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive with a 300ms context on an empty queue: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Receive took %v: it must not wait for the 20 s long poll", took)
	}
	m := &mq.Message{Body: []byte("caught by the abandoned poll")}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := sqstest.Recv(t, s)
	if d.ID != m.ID || d.Attempt != 1 {
		t.Errorf("received %s attempt %d, want %s attempt 1", d.ID, d.Attempt, m.ID)
	}
	if err := d.Ack(); err != nil {
		t.Error(err)
	}

	cctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, _ = s.Receive(cctx)
	cancel()
	m2 := &mq.Message{Body: []byte("handed back at shutdown")}
	if err := p.Send(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// The visibility timeout is 60 s: only a hand-back delivers it soon.
	again := e.sub(q)
	d = sqstest.Recv(t, again)
	if d.ID != m2.ID {
		t.Errorf("received %s, want %s", d.ID, m2.ID)
	}
	_ = d.Ack()
}

// TestFIFOQueue checks order per message group, deduplication within the
// window, and Keys that are not valid group IDs.
func TestFIFOQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name(".fifo")
	e.queue(q, map[string]string{"FifoQueue": "true"})
	p := e.producer(q)
	ctx := context.Background()
	var msgs []*mq.Message
	keys := []string{"a", "ключ 🔑", ""}
	for i := range 5 {
		for _, k := range keys {
			msgs = append(msgs, &mq.Message{Body: []byte(fmt.Sprintf("%s/%d", k, i)), Key: k, DedupID: fmt.Sprintf("%s-%d", k, i)})
		}
	}
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	dup := &mq.Message{Body: []byte("duplicate"), Key: "a", DedupID: "a-0"}
	if err := p.Send(ctx, dup); err != nil {
		t.Fatal(err)
	}
	s := e.sub(q)
	next := map[string]int{}
	for range msgs {
		d := sqstest.Recv(t, s)
		var i int
		k, n, _ := strings.Cut(string(d.Body), "/")
		if _, err := fmt.Sscan(n, &i); err != nil || d.Key != k {
			t.Fatalf("received %q with Key %q", d.Body, d.Key)
		}
		if k != "" && i != next[k] {
			t.Errorf("key %q: received %d, want %d (send order)", k, i, next[k])
		}
		next[k] = i + 1
		if want := fmt.Sprintf("%s-%d", k, i); d.DedupID != want {
			t.Errorf("DedupID %q, want %q", d.DedupID, want)
		}
		if err := d.Ack(); err != nil {
			t.Error(err)
		}
	}
	sqstest.None(t, s, 2*time.Second)
	if !s.Info().Ordered || !s.Capabilities().Dedup.Has() || s.Capabilities().Delay.Has() {
		t.Errorf("FIFO subscription: info %+v, capabilities %v", s.Info(), s.Capabilities())
	}
}

func TestLongDelayIsEmulated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	u := e.queue(q, nil)
	ctx := context.Background()
	tp, err := sqs.OpenTopic(ctx, e.c, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	err = tp.SendBatch(ctx, []driver.Message{{Body: []byte("x"), Delay: 16 * time.Minute}})
	if driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("driver SendBatch with a 16-minute Delay: %v, want InvalidArgument", err)
	}
	p := e.producer(q)
	if err := p.Send(ctx, &mq.Message{Body: []byte("later"), Delay: 16 * time.Minute}); err != nil {
		t.Fatalf("Send with a 16-minute Delay: %v", err)
	}
	sqstest.None(t, e.sub(q), 2*time.Second)
}

func TestCredentialsNeverInErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if !e.srv.Moto {
		t.Skip("checks the dummy credentials of the moto setup")
	}
	ctx := context.Background()
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := mq.OpenProducer(ctx, e.url(e.name("")))
	collect(err)
	_, err = mq.OpenSubscription(ctx, "sqs://q?region=us-east-1&endpoint=http%3A%2F%2F127.0.0.1%3A1")
	collect(err)
	q := e.name("")
	u := e.queue(q, nil)
	p := e.producer(q)
	_, _ = e.c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	collect(p.Send(ctx, &mq.Message{Body: []byte("to a deleted queue")}))
	a, err := mq.OpenAdmin(ctx, "sqs://?"+e.srv.Query())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	collect(a.DeleteTopic(ctx, e.name("")))
	collect(a.CreateSubscription(ctx, "nope", "nope", mq.SubscriptionConfig{}))
	if len(errs) < 5 {
		t.Fatalf("only %d errors to check: %v", len(errs), errs)
	}
	for _, err := range errs {
		for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(form, sqstest.SecretAccessKey) || strings.Contains(form, sqstest.AccessKeyID) {
				t.Errorf("error holds a credential: %s", form)
			}
		}
	}
}

func TestAs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	u := e.queue(q, nil)
	p, s := e.producer(q), e.sub(q)
	var c *awssqs.Client
	if !p.As(&c) || c == nil || !s.As(&c) {
		t.Errorf("As(**sqs.Client) failed")
	}
	if p.As(nil) || p.As(c) {
		t.Errorf("As accepted a wrong target")
	}
	if err := p.Send(context.Background(), &mq.Message{Body: []byte("as")}); err != nil {
		t.Fatal(err)
	}
	d := sqstest.Recv(t, s)
	var m sqstypes.Message
	var mp *sqstypes.Message
	if !d.As(&m) || !d.As(&mp) || aws.ToString(m.MessageId) != d.ID || mp.ReceiptHandle == nil {
		t.Errorf("Delivery.As: %v %v", aws.ToString(m.MessageId), mp)
	}
	_ = d.Ack()
	_, _ = e.c.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	err := p.Send(context.Background(), &mq.Message{Body: []byte("to a deleted queue")})
	var qdne *sqstypes.QueueDoesNotExist
	if !errors.Is(err, mq.ErrNotFound) || !p.ErrorAs(err, &qdne) {
		t.Errorf("Send to a deleted queue: %v (code %v); ErrorAs(QueueDoesNotExist) %v", err, mq.Code(err), qdne != nil)
	}
	if p.ErrorAs(err, nil) || p.ErrorAs(err, 3) {
		t.Errorf("ErrorAs accepted a wrong target")
	}
}

func TestPlainConstructors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := sqs.OpenTopic(ctx, nil, "q", nil); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenTopic with a nil client: %v", err)
	}
	if _, err := sqs.OpenSubscription(ctx, e.c, "not a queue!", nil); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenSubscription of a bad name: %v", err)
	}
	if _, err := sqs.OpenSubscription(ctx, e.c, "q", &sqs.SubscriptionOptions{Wait: 30 * time.Second}); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("OpenSubscription with Wait 30s: %v", err)
	}
	q := e.name("")
	u := e.queue(q, map[string]string{"VisibilityTimeout": "7"})
	dt, err := sqs.OpenTopic(ctx, e.c, u, nil) // by URL
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(ctx)
	ds, err := sqs.OpenSubscription(ctx, e.c, q, &sqs.SubscriptionOptions{Wait: time.Second, Name: "orders"}) // by name
	if err != nil {
		t.Fatal(err)
	}
	s, err := mq.NewSubscription(ds)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	if info := s.Info(); info.Name != "orders" || info.Lease != 7*time.Second || info.Ordered || info.HasDeadLetter {
		t.Errorf("Info = %+v", info)
	}
	m := &mq.Message{Body: []byte("plain")}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := sqstest.Recv(t, s)
	if d.ID != m.ID {
		t.Errorf("received %s, want %s", d.ID, m.ID)
	}
	if err := d.DeadLetter("no dead-letter queue"); !errors.Is(err, mq.ErrUnsupported) {
		t.Errorf("DeadLetter without a redrive policy: %v, want ErrUnsupported", err)
	}
	// DeadLetter handed the message back.
	d = sqstest.Recv(t, s)
	if d.ID != m.ID || d.Attempt != 2 {
		t.Errorf("after a failed DeadLetter received %s attempt %d, want %s attempt 2", d.ID, d.Attempt, m.ID)
	}
	_ = d.Ack()
}
