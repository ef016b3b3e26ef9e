package sqs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
)

func TestAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.admin()
	q, fq := e.name(""), e.name(".fifo")
	t.Cleanup(func() {
		for _, n := range []string{q, fq, sqs.DeadLetterName(q), sqs.DeadLetterName(fq)} {
			_ = a.DeleteTopic(context.Background(), n)
		}
	})
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	want := func(what string, err error, sentinel error) {
		t.Helper()
		if !errors.Is(err, sentinel) {
			t.Errorf("%s: %v (code %v), want %v", what, err, mq.Code(err), sentinel)
		}
	}
	want("CreateSubscription before CreateTopic", a.CreateSubscription(ctx, q, q, mq.SubscriptionConfig{}), mq.ErrNotFound)
	must("CreateTopic", a.CreateTopic(ctx, q, mq.TopicConfig{}))
	want("CreateTopic twice", a.CreateTopic(ctx, q, mq.TopicConfig{}), mq.ErrAlreadyExists)
	want("dedup on a standard queue", a.CreateTopic(ctx, e.name(""), mq.TopicConfig{DedupWindow: time.Minute}), mq.ErrInvalidArgument)
	want("dedup window over 5 minutes", a.CreateTopic(ctx, e.name(".fifo"), mq.TopicConfig{DedupWindow: time.Hour}), mq.ErrInvalidArgument)
	want("bad queue name", a.CreateTopic(ctx, "no spaces", mq.TopicConfig{}), mq.ErrInvalidArgument)
	for what, cfg := range map[string]mq.SubscriptionConfig{
		"MaxAttempts over 1000":         {MaxAttempts: 1001},
		"dead letter without attempts":  {DeadLetterTopic: "x"},
		"ordered on a standard queue":   {Ordered: true},
		"lease over 12 h":               {Lease: 13 * time.Hour},
		"FIFO dead letter of standard":  {MaxAttempts: 3, DeadLetterTopic: "dl.fifo"},
		"dead-letter queue bad name":    {MaxAttempts: 3, DeadLetterTopic: "bad name"},
		"subscription named otherwise ": {},
	} {
		name := q
		if what == "subscription named otherwise " {
			name = "other"
		}
		want(what, a.CreateSubscription(ctx, q, name, cfg), mq.ErrInvalidArgument)
	}
	want("Retention", a.CreateSubscription(ctx, q, q, mq.SubscriptionConfig{Retention: time.Hour}), mq.ErrUnsupported)
	must("CreateSubscription", a.CreateSubscription(ctx, q, q, mq.SubscriptionConfig{Lease: 1500 * time.Millisecond, MaxAttempts: 4}))
	want("CreateSubscription twice", a.CreateSubscription(ctx, q, q, mq.SubscriptionConfig{}), mq.ErrAlreadyExists)
	s := e.sub(q)
	if info := s.Info(); info.Lease != 2*time.Second || info.MaxAttempts != 4 || !info.HasDeadLetter || info.Ordered {
		t.Errorf("Info of the configured queue: %+v", info)
	}
	must("DeleteSubscription", a.DeleteSubscription(ctx, q, q))
	want("DeleteSubscription twice", a.DeleteSubscription(ctx, q, q), mq.ErrNotFound)
	s2 := e.sub(q)
	if info := s2.Info(); info.HasDeadLetter || info.MaxAttempts != 0 {
		t.Errorf("Info after DeleteSubscription: %+v", info)
	}

	must("CreateTopic FIFO", a.CreateTopic(ctx, fq, mq.TopicConfig{DedupWindow: 5 * time.Minute}))
	must("CreateSubscription FIFO", a.CreateSubscription(ctx, fq, fq, mq.SubscriptionConfig{Ordered: true, MaxAttempts: 2}))
	if info := e.sub(fq).Info(); !info.Ordered || info.MaxAttempts != 2 {
		t.Errorf("Info of the FIFO queue: %+v", info)
	}
	if _, err := e.c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(sqs.DeadLetterName(fq))}); err != nil {
		t.Errorf("the FIFO queue's dead-letter queue %s: %v", sqs.DeadLetterName(fq), err)
	}
	must("DeleteTopic", a.DeleteTopic(ctx, fq))
	want("DeleteTopic twice", a.DeleteTopic(ctx, fq), mq.ErrNotFound)
	var c *awssqs.Client
	if !a.As(&c) || c == nil {
		t.Errorf("Admin.As(**sqs.Client) failed")
	}
}

// TestDeadLetterFailureHandsTheMessageBack deletes the dead-letter queue
// under an open subscription: DeadLetter fails and the message comes back
// rather than being lost.
func TestDeadLetterFailureHandsTheMessageBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.admin()
	q := e.name("")
	dlq := sqs.DeadLetterName(q)
	t.Cleanup(func() {
		_ = a.DeleteTopic(context.Background(), q)
		_ = a.DeleteTopic(context.Background(), dlq)
	})
	if err := a.CreateTopic(ctx, q, mq.TopicConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateSubscription(ctx, q, q, mq.SubscriptionConfig{Lease: 30 * time.Second, MaxAttempts: 5}); err != nil {
		t.Fatal(err)
	}
	p, s := e.producer(q), e.sub(q)
	m := &mq.Message{Body: []byte("keep me")}
	if err := p.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := sqstest.Recv(t, s)
	if err := a.DeleteTopic(ctx, dlq); err != nil {
		t.Fatal(err)
	}
	if err := d.DeadLetter("nowhere to go"); !errors.Is(err, mq.ErrNotFound) {
		t.Errorf("DeadLetter into a deleted queue: %v, want NotFound", err)
	}
	d = sqstest.Recv(t, s) // the lease is 30 s: only a hand-back brings it soon
	if d.ID != m.ID || d.Attempt != 2 {
		t.Errorf("received %s attempt %d, want %s attempt 2", d.ID, d.Attempt, m.ID)
	}
	_ = d.Ack()
}
