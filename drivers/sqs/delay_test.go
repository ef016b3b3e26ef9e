package sqs_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// nackRecorder is the driver's subscription, recording the delays of the
// Nack calls mq makes.
type nackRecorder struct {
	driver.Subscription
	mu     sync.Mutex
	delays []time.Duration
}

func (r *nackRecorder) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	return r.Subscription.(driver.Extender).Extend(ctx, ids, lease)
}

func (r *nackRecorder) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, delay)
	r.mu.Unlock()
	return r.Subscription.Nack(ctx, ids, delay)
}

func (r *nackRecorder) nacks() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...)
}

// queueCounts returns the queue's ApproximateNumberOfMessages and
// ApproximateNumberOfMessagesNotVisible.
func (e *tenv) queueCounts(url string) (visible, invisible string) {
	e.t.Helper()
	out, err := e.c.GetQueueAttributes(context.Background(), &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)],
		out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]
}

// TestLongNackDelayIsNative checks that a Nack delay beyond Delay's 15
// minutes but within 12 h goes to SQS (ChangeMessageVisibility) rather
// than being held by mq: the driver gets the Nack with the delay, and the
// message stays invisible in the queue after the subscription is shut down
// (mq hands what it holds back at shutdown).
func TestLongNackDelayIsNative(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	u := e.queue(q, nil)
	ctx := context.Background()
	p := e.producer(q)
	ds, err := sqs.OpenSubscription(ctx, e.c, u, &sqs.SubscriptionOptions{Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := &nackRecorder{Subscription: ds}
	s, err := mq.NewSubscription(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(ctx)
	caps := s.Capabilities()
	if caps.MaxDelay != 15*time.Minute || caps.NackDelayLimit() != 12*time.Hour {
		t.Errorf("MaxDelay %v, Nack delay limit %v; want 15m and 12h", caps.MaxDelay, caps.NackDelayLimit())
	}
	if err := p.Send(ctx, &mq.Message{Body: []byte("nacked for an hour")}); err != nil {
		t.Fatal(err)
	}
	d := sqstest.Recv(t, s)
	if err := d.Nack(time.Hour); err != nil {
		t.Fatalf("Nack(1h): %v", err)
	}
	if got := rec.nacks(); len(got) != 1 || got[0] != time.Hour {
		t.Errorf("driver Nack calls with delays %v, want one with 1h", got)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.nacks(); len(got) != 1 {
		t.Errorf("driver Nack calls with delays %v after Shutdown: mq held the delivery and handed it back", got)
	}
	if vis, invis := e.queueCounts(u); vis != "0" || invis != "1" {
		t.Errorf("after Nack(1h) and Shutdown the queue has %s visible and %s invisible messages, want 0 and 1", vis, invis)
	}
	sqstest.None(t, e.sub(q), 2*time.Second)
}

// TestEmulatedDelayWakesALongPoll checks that a message held by mq for an
// emulated delay (beyond SQS's 15 minutes) is handed out when due while a
// Receive waits in a long poll. The message carries its due time as a
// producer emulating the delay writes it, 2 s ahead; the long poll and the
// Receive's context last 15 s, so a Receive that nobody wakes fails.
func TestEmulatedDelayWakesALongPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.name("")
	u := e.queue(q, nil)
	ctx := context.Background()
	s := e.sub(q, "wait=15s")
	due := time.Now().Add(2 * time.Second)
	_, err := e.c.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl:    aws.String(u),
		MessageBody: aws.String("due in 2 s"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			driver.AttrNotBefore: {DataType: aws.String("String"), StringValue: aws.String(due.UTC().Format(time.RFC3339Nano))},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d, err := s.Receive(rctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		t.Fatal("Receive was not woken when the held message became due")
	case err != nil:
		t.Fatal(err)
	}
	if time.Now().Before(due) {
		t.Errorf("received before the due time")
	}
	if string(d.Body) != "due in 2 s" || d.Attributes[driver.AttrNotBefore] != "" {
		t.Errorf("received %q with attributes %v", d.Body, d.Attributes)
	}
	if err := d.Ack(); err != nil {
		t.Error(err)
	}
	// The woken Receive left its long poll running (see the package
	// doc); a message ends it now rather than at Shutdown's grace.
	if _, err := e.c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String("ends the poll")}); err != nil {
		t.Fatal(err)
	}
}
