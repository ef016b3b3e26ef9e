package sns

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// admin provisions topics and their queue subscriptions.
type admin struct {
	awsmq.Errors
	sns    *awssns.Client
	sqs    *awssqs.Client
	queues driver.Admin // the sqs driver's admin, for the queues
	conn   *awsmq.Conn
	closed atomic.Bool
}

// NewAdmin returns a driver.Admin that provisions SNS topics and SQS
// queues subscribed to them, with the caller's clients. Wrap it with
// mq.NewAdmin.
//
//   - CreateTopic creates a topic, a FIFO topic when the name ends in
//     .fifo. TopicConfig.DedupWindow needs a FIFO topic and at most 5
//     minutes (the fixed window of SQS FIFO queues, which deduplicate).
//   - CreateSubscription(topic, queue, cfg) creates the SQS queue queue
//     (FIFO for a FIFO topic; the name must then end in .fifo), configures
//     it like the sqs driver's admin (lease, max attempts with a
//     dead-letter queue, default QUEUE-dlq), allows the topic to send to
//     it (queue policy), and subscribes it with raw message delivery. An
//     existing queue is an error with code AlreadyExists.
//   - DeleteSubscription unsubscribes the queue and deletes it (its
//     dead-letter queue stays); DeleteTopic deletes the topic.
func NewAdmin(snsClient *awssns.Client, sqsClient *awssqs.Client) driver.Admin {
	return &admin{sns: snsClient, sqs: sqsClient, queues: sqs.NewAdmin(sqsClient)}
}

func (a *admin) check(ctx context.Context) error {
	if a.closed.Load() {
		return errAdminClosed
	}
	if a.sns == nil || a.sqs == nil {
		return driver.NewError(driver.InvalidArgument, "sns: nil client")
	}
	return ctx.Err()
}

func invalid(msg string) error { return driver.NewError(driver.InvalidArgument, "sns: "+msg) }

func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if !validTopicName(name) {
		return invalid("topic name " + quote(name) + " must be 1 to 256 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO topic")
	}
	fifo := strings.HasSuffix(name, ".fifo")
	switch {
	case cfg.DedupWindow < 0:
		return invalid("negative dedup window")
	case cfg.DedupWindow > 0 && !fifo:
		return invalid("producer-side deduplication needs a FIFO topic: name it " + name + ".fifo")
	case cfg.DedupWindow > sqs.DedupWindow:
		return invalid("SNS and SQS FIFO deduplicate within a fixed 5-minute window, not " + cfg.DedupWindow.String())
	}
	if _, ok, err := findTopic(ctx, a.sns, name); err != nil {
		return err
	} else if ok {
		return driver.NewError(driver.AlreadyExists, "sns: topic "+name+" already exists")
	}
	in := &awssns.CreateTopicInput{Name: aws.String(name)}
	if fifo {
		in.Attributes = map[string]string{"FifoTopic": "true"}
	}
	_, err := a.sns.CreateTopic(ctx, in)
	return err
}

func (a *admin) CreateSubscription(ctx context.Context, topic, queue string, cfg driver.SubscriptionConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	arn, err := topicARN(ctx, a.sns, topic)
	if err != nil {
		return err
	}
	fifo := strings.HasSuffix(topic, ".fifo")
	switch {
	case !validQueueName(queue):
		return invalid("queue name " + quote(queue) + " must be 1 to 80 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO queue")
	case fifo != strings.HasSuffix(queue, ".fifo"):
		return invalid("the queues of a FIFO topic are FIFO queues (ending in .fifo), those of a standard topic standard queues")
	case cfg.Ordered && !fifo:
		return invalid("ordered subscriptions need a FIFO topic: name it " + topic + ".fifo")
	}
	if err := a.queues.CreateTopic(ctx, queue, driver.TopicConfig{}); err != nil {
		return err
	}
	if err := a.subscribe(ctx, arn, queue, cfg); err != nil {
		_ = a.queues.DeleteTopic(context.WithoutCancel(ctx), queue)
		return err
	}
	return nil
}

func (a *admin) subscribe(ctx context.Context, topicArn, queue string, cfg driver.SubscriptionConfig) error {
	if err := a.queues.CreateSubscription(ctx, queue, queue, cfg); err != nil {
		return err
	}
	u, qarn, err := a.queueURLAndARN(ctx, queue)
	if err != nil {
		return err
	}
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "portmq-sns",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  qarn,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topicArn}},
		}},
	})
	if _, err := a.sqs.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(u),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): string(policy)},
	}); err != nil {
		return err
	}
	_, err = a.sns.Subscribe(ctx, &awssns.SubscribeInput{
		TopicArn:              aws.String(topicArn),
		Protocol:              aws.String("sqs"),
		Endpoint:              aws.String(qarn),
		Attributes:            map[string]string{"RawMessageDelivery": "true"},
		ReturnSubscriptionArn: true,
	})
	return err
}

func (a *admin) queueURLAndARN(ctx context.Context, queue string) (string, string, error) {
	out, err := a.sqs.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String(queue)})
	if err != nil {
		return "", "", err
	}
	u := aws.ToString(out.QueueUrl)
	qarn, err := queueARN(ctx, a.sqs, u, "")
	return u, qarn, err
}

func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	arn, err := topicARN(ctx, a.sns, name)
	if err != nil {
		return err
	}
	_, err = a.sns.DeleteTopic(ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)})
	return err
}

func (a *admin) DeleteSubscription(ctx context.Context, topic, queue string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	arn, err := topicARN(ctx, a.sns, topic)
	if err != nil {
		return err
	}
	_, qarn, err := a.queueURLAndARN(ctx, queue)
	if err != nil {
		if awsmq.ErrorCode(err) == driver.NotFound {
			return driver.NewError(driver.NotFound, "sns: queue "+queue+" does not exist")
		}
		return err
	}
	sub, err := findSubscription(ctx, a.sns, arn, qarn)
	if err != nil {
		return err
	}
	if sub == "" {
		return driver.NewError(driver.NotFound, "sns: queue "+queue+" is not subscribed to topic "+topic)
	}
	if _, err := a.sns.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(sub)}); err != nil {
		return err
	}
	return a.queues.DeleteTopic(ctx, queue)
}

// As implements driver.Common: **sns.Client or **sqs.Client (of the AWS
// SDK).
func (a *admin) As(i any) bool { return awsmq.As(a.sns, i) || a.queues.As(i) }

// Close implements driver.Common.
func (a *admin) Close() error {
	if a.closed.Swap(true) {
		return errAdminClosed
	}
	_ = a.queues.Close()
	a.conn.Close()
	return nil
}
