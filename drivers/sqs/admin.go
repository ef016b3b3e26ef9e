package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// SubscriptionTag is the queue tag the admin sets on a queue it configured
// as a subscription.
const SubscriptionTag = "portmq-subscription"

// DedupWindow is the fixed deduplication window of FIFO queues.
const DedupWindow = 5 * time.Minute

// admin provisions queues. On SQS a queue is both the topic and its one
// subscription: CreateTopic creates the queue, CreateSubscription (whose
// name must be the queue's) sets its consumer-side settings.
type admin struct {
	awsmq.Errors
	c      *awssqs.Client
	conn   *awsmq.Conn
	closed atomic.Bool
}

// NewAdmin returns a driver.Admin that provisions queues with client (the
// caller's; Close does not touch it). Wrap it with mq.NewAdmin.
//
//   - CreateTopic creates a queue, a FIFO queue when the name ends in
//     .fifo. TopicConfig.DedupWindow needs a FIFO queue and at most 5
//     minutes, the fixed window of SQS.
//   - CreateSubscription(queue, queue, cfg) configures the queue as its
//     own subscription: VisibilityTimeout from Lease (rounded up to whole
//     seconds), and with MaxAttempts (1 to 1000) a RedrivePolicy into the
//     dead-letter queue DeadLetterTopic (default QUEUE-dlq, with .fifo for
//     a FIFO queue), created if absent. Ordered needs a FIFO queue;
//     Retention is unsupported (SQS cannot replay). It tags the queue
//     portmq-subscription, so that a second call fails with
//     AlreadyExists.
//   - DeleteSubscription removes the redrive policy and the tag; the
//     dead-letter queue stays. DeleteTopic deletes the queue.
func NewAdmin(client *awssqs.Client) driver.Admin { return &admin{c: client} }

func (a *admin) check(ctx context.Context) error {
	if a.closed.Load() {
		return errAdminClosed
	}
	if a.c == nil {
		return driver.NewError(driver.InvalidArgument, "sqs: nil client")
	}
	return ctx.Err()
}

func invalid(msg string) error { return driver.NewError(driver.InvalidArgument, "sqs: "+msg) }

func checkName(name string) error {
	if !validQueueName(name) {
		return invalid("queue name " + quote(name) + " must be 1 to 80 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO queue")
	}
	return nil
}

func isFIFOName(name string) bool { return strings.HasSuffix(name, ".fifo") }

// exists reports whether the queue exists, and its URL.
func (a *admin) exists(ctx context.Context, name string) (string, bool, error) {
	u, err := queueURL(ctx, a.c, name, "")
	if err == nil {
		return u, true, nil
	}
	if awsmq.ErrorCode(err) == driver.NotFound {
		return "", false, nil
	}
	return "", false, err
}

// mustExist returns the queue's URL, or an error with code NotFound.
func (a *admin) mustExist(ctx context.Context, name string) (string, error) {
	u, ok, err := a.exists(ctx, name)
	if err == nil && !ok {
		err = driver.NewError(driver.NotFound, "sqs: queue "+name+" does not exist")
	}
	return u, err
}

// subscriptionQueue returns the URL of an existing queue and whether it
// carries SubscriptionTag.
func (a *admin) subscriptionQueue(ctx context.Context, name string) (string, bool, error) {
	u, err := a.mustExist(ctx, name)
	if err != nil {
		return "", false, err
	}
	tags, err := a.c.ListQueueTags(ctx, &awssqs.ListQueueTagsInput{QueueUrl: aws.String(u)})
	if err != nil {
		return "", false, err
	}
	_, ok := tags.Tags[SubscriptionTag]
	return u, ok, nil
}

func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	switch {
	case cfg.DedupWindow < 0:
		return invalid("negative dedup window")
	case cfg.DedupWindow > 0 && !isFIFOName(name):
		return invalid("producer-side deduplication needs a FIFO queue: name it " + name + ".fifo")
	case cfg.DedupWindow > DedupWindow:
		return invalid("SQS FIFO queues deduplicate within a fixed 5-minute window, not " + cfg.DedupWindow.String())
	}
	if _, ok, err := a.exists(ctx, name); err != nil {
		return err
	} else if ok {
		return driver.NewError(driver.AlreadyExists, "sqs: queue "+name+" already exists")
	}
	_, err := a.createQueue(ctx, name)
	return err
}

func (a *admin) createQueue(ctx context.Context, name string) (string, error) {
	in := &awssqs.CreateQueueInput{QueueName: aws.String(name)}
	if isFIFOName(name) {
		in.Attributes = map[string]string{string(sqstypes.QueueAttributeNameFifoQueue): "true"}
	}
	out, err := a.c.CreateQueue(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// DeadLetterName is the default dead-letter queue of a queue: QUEUE-dlq,
// or QUEUE-dlq.fifo for QUEUE.fifo.
func DeadLetterName(queue string) string {
	if isFIFOName(queue) {
		return strings.TrimSuffix(queue, ".fifo") + "-dlq.fifo"
	}
	return queue + "-dlq"
}

func (a *admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if err := checkName(topic); err != nil {
		return err
	}
	if name != topic {
		return invalid("an SQS queue is its own single subscription: name the subscription like the queue (" + quote(topic) + "), or use sns:// for several subscriptions of a topic")
	}
	fifo := isFIFOName(topic)
	switch {
	case cfg.Lease < 0 || cfg.Lease > MaxVisibility:
		return invalid("lease " + cfg.Lease.String() + " is outside 0 to 12h")
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > maxReceiveCountLimit:
		return invalid("max attempts " + strconv.Itoa(cfg.MaxAttempts) + " is outside 1 to 1000 (SQS maxReceiveCount)")
	case cfg.DeadLetterTopic != "" && cfg.MaxAttempts == 0:
		return invalid("SQS ties a dead-letter queue to a maxReceiveCount: set MaxAttempts (1 to 1000) with DeadLetterTopic")
	case cfg.Ordered && !fifo:
		return invalid("ordered subscriptions are FIFO queues: name the queue " + topic + ".fifo")
	case cfg.Retention > 0:
		return &driver.Error{Code: driver.Unsupported, Msg: "sqs: SQS cannot replay acknowledged messages (Retention)", Err: errors.ErrUnsupported}
	}
	u, tagged, err := a.subscriptionQueue(ctx, topic)
	if err != nil {
		return err
	}
	if tagged {
		return driver.NewError(driver.AlreadyExists, "sqs: queue "+topic+" is already configured as a subscription")
	}
	attrs := map[string]string{}
	if cfg.Lease > 0 {
		attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(int(awsmq.CeilSeconds(cfg.Lease) / time.Second))
	}
	if cfg.MaxAttempts > 0 {
		dlq := cfg.DeadLetterTopic
		if dlq == "" {
			dlq = DeadLetterName(topic)
		}
		if err := checkName(dlq); err != nil {
			return err
		}
		if isFIFOName(dlq) != fifo {
			return invalid("the dead-letter queue of a FIFO queue must be FIFO, and of a standard queue standard: " + dlq)
		}
		arn, err := a.ensureQueueARN(ctx, dlq)
		if err != nil {
			return err
		}
		rp, _ := json.Marshal(redrivePolicy{DeadLetterTargetArn: arn, MaxReceiveCount: cfg.MaxAttempts})
		attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = string(rp)
	}
	if len(attrs) > 0 {
		if _, err := a.c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(u), Attributes: attrs}); err != nil {
			return err
		}
	}
	_, err = a.c.TagQueue(ctx, &awssqs.TagQueueInput{QueueUrl: aws.String(u), Tags: map[string]string{SubscriptionTag: "true"}})
	return err
}

// ensureQueueARN creates the queue if absent and returns its ARN.
func (a *admin) ensureQueueARN(ctx context.Context, name string) (string, error) {
	u, ok, err := a.exists(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		if u, err = a.createQueue(ctx, name); err != nil {
			return "", err
		}
	}
	out, err := a.c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(u),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", err
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	u, err := a.mustExist(ctx, name)
	if err != nil {
		return err
	}
	_, err = a.c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	return err
}

func (a *admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	notFound := driver.NewError(driver.NotFound, "sqs: queue "+topic+" has no subscription "+quote(name))
	if name != topic {
		return notFound
	}
	u, tagged, err := a.subscriptionQueue(ctx, topic)
	if err != nil {
		return err
	}
	if !tagged {
		return notFound
	}
	if _, err := a.c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(u),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameRedrivePolicy): ""},
	}); err != nil {
		return err
	}
	_, err = a.c.UntagQueue(ctx, &awssqs.UntagQueueInput{QueueUrl: aws.String(u), TagKeys: []string{SubscriptionTag}})
	return err
}

// As implements driver.Common: **sqs.Client (of the AWS SDK).
func (a *admin) As(i any) bool { return awsmq.As(a.c, i) }

// Close implements driver.Common.
func (a *admin) Close() error {
	if a.closed.Swap(true) {
		return errAdminClosed
	}
	a.conn.Close()
	return nil
}
