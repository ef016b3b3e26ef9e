package sns

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// subscription is the sqs driver's subscription of the queue, which
// declares Delay as none (SNS cannot delay; mq emulates it) and closes the
// connection the opener made.
type subscription struct {
	driver.Subscription
	dl   driver.DeadLetterer
	caps driver.Capabilities
	conn *awsmq.Conn
}

var (
	_ driver.Subscription = (*subscription)(nil)
	_ driver.Extender     = (*subscription)(nil)
	_ driver.DeadLetterer = (*subscription)(nil)
)

// Extend implements driver.Extender: the queue's visibility timeout, as
// the sqs driver's subscription extends it.
func (s *subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	return s.Subscription.(driver.Extender).Extend(ctx, ids, lease)
}

// OpenSubscription returns a driver.Subscription that receives what the
// SNS topic topic (name or ARN) delivers to the SQS queue queue (name or
// URL). It checks that the queue is subscribed to the topic with raw
// message delivery (skipping the check if the caller may not list the
// topic's subscriptions). opts are the sqs driver's; their Name defaults
// to TOPIC/QUEUE. The clients stay the caller's. Wrap the result with
// mq.NewSubscription.
func OpenSubscription(ctx context.Context, snsClient *awssns.Client, sqsClient *awssqs.Client, topic, queue string, opts *sqs.SubscriptionOptions) (driver.Subscription, error) {
	return openSubscription(ctx, snsClient, sqsClient, topic, queue, opts, nil)
}

func openSubscription(ctx context.Context, snsClient *awssns.Client, sqsClient *awssqs.Client, topic, queue string, opts *sqs.SubscriptionOptions, conn *awsmq.Conn) (*subscription, error) {
	if snsClient == nil || sqsClient == nil {
		return nil, driver.NewError(driver.InvalidArgument, "sns: nil client")
	}
	var o sqs.SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = topic[strings.LastIndexByte(topic, ':')+1:] + "/" + queue[strings.LastIndexByte(queue, '/')+1:]
	}
	inner, err := sqs.OpenSubscription(ctx, sqsClient, queue, &o)
	if err != nil {
		return nil, err
	}
	if err := checkSubscribed(ctx, snsClient, sqsClient, topic, queue, o.Owner); err != nil {
		_ = inner.Close()
		return nil, err
	}
	caps := inner.Capabilities()
	caps.Delay = driver.None
	return &subscription{Subscription: inner, dl: inner.(driver.DeadLetterer), caps: caps, conn: conn}, nil
}

// checkSubscribed checks that the queue is subscribed to the topic with
// raw message delivery. It skips what the caller lacks permission for.
func checkSubscribed(ctx context.Context, snsClient *awssns.Client, sqsClient *awssqs.Client, topic, queue, owner string) error {
	arn, err := topicARN(ctx, snsClient, topic)
	if err != nil {
		if driver.CodeOf(err) == driver.PermissionDenied {
			return nil
		}
		return err
	}
	qarn, err := queueARN(ctx, sqsClient, queue, owner)
	if err != nil {
		if awsmq.ErrorCode(err) == driver.PermissionDenied {
			return nil
		}
		return openError("reading queue "+queue, err)
	}
	sub, err := findSubscription(ctx, snsClient, arn, qarn)
	if err != nil {
		if awsmq.ErrorCode(err) == driver.PermissionDenied {
			return nil
		}
		return openError("listing the subscriptions of "+topic, err)
	}
	if sub == "" {
		return driver.NewError(driver.NotFound, "sns: queue "+queue+" is not subscribed to topic "+topic)
	}
	out, err := snsClient.GetSubscriptionAttributes(ctx, &awssns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(sub)})
	if err != nil {
		if awsmq.ErrorCode(err) == driver.PermissionDenied {
			return nil
		}
		return openError("reading subscription "+sub, err)
	}
	if out.Attributes["RawMessageDelivery"] != "true" {
		return driver.NewError(driver.FailedPrecondition, "sns: the subscription of queue "+queue+" to topic "+topic+" does not use raw message delivery, which portmq needs (set RawMessageDelivery=true)")
	}
	return nil
}

// queueARN returns the ARN of a queue given by name or URL.
func queueARN(ctx context.Context, c *awssqs.Client, queue, owner string) (string, error) {
	u := queue
	if !strings.HasPrefix(queue, "https://") && !strings.HasPrefix(queue, "http://") {
		in := &awssqs.GetQueueUrlInput{QueueName: aws.String(queue)}
		if owner != "" {
			in.QueueOwnerAWSAccountId = aws.String(owner)
		}
		out, err := c.GetQueueUrl(ctx, in)
		if err != nil {
			return "", err
		}
		u = aws.ToString(out.QueueUrl)
	}
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(u),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", err
	}
	return out.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// findSubscription returns the ARN of the SQS subscription of the queue
// with ARN qarn to the topic, or "".
func findSubscription(ctx context.Context, c *awssns.Client, topicArn, qarn string) (string, error) {
	p := awssns.NewListSubscriptionsByTopicPaginator(c, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicArn)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", err
		}
		for _, s := range out.Subscriptions {
			if aws.ToString(s.Protocol) == "sqs" && aws.ToString(s.Endpoint) == qarn {
				return aws.ToString(s.SubscriptionArn), nil
			}
		}
	}
	return "", nil
}

// Capabilities implements driver.Subscription.
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// DeadLetter implements driver.DeadLetterer (the sqs driver's).
func (s *subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	return s.dl.DeadLetter(ctx, items)
}

// Close implements driver.Common.
func (s *subscription) Close() error {
	err := s.Subscription.Close()
	s.conn.Close()
	return err
}
