package sns

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// MaxMessageSize is the largest SNS message (body and attributes).
const MaxMessageSize = 256 << 10

// Capabilities returns what the driver declares for a standard (fifo
// false) or FIFO topic: what SQS subscriptions do, except Delay, which SNS
// cannot do (mq emulates it), and a body limit from SNS's 256 KiB.
func Capabilities(fifo bool) driver.Capabilities {
	c := sqs.Capabilities(fifo, MaxMessageSize)
	c.Delay = driver.None
	c.MaxBodySize = awsmq.MaxBinaryBody(MaxMessageSize, awsmq.IDOverhead)
	return c
}

// TopicOptions configures OpenTopic. nil means the zero value; there are
// no options yet.
type TopicOptions struct{}

type topic struct {
	awsmq.Handle
	c      *awssns.Client
	arn    string
	name   string
	caps   driver.Capabilities
	target awsmq.Target
}

var _ driver.Topic = (*topic)(nil)

// OpenTopic returns a driver.Topic that publishes to the SNS topic named
// by topic (its name or its ARN). The client stays the caller's. Wrap the
// result with mq.NewProducer.
func OpenTopic(ctx context.Context, client *awssns.Client, topic string, opts *TopicOptions) (driver.Topic, error) {
	return openTopic(ctx, client, topic, nil)
}

func openTopic(ctx context.Context, client *awssns.Client, name string, conn *awsmq.Conn) (*topic, error) {
	if client == nil {
		return nil, driver.NewError(driver.InvalidArgument, "sns: nil client")
	}
	arn, err := topicARN(ctx, client, name)
	if err != nil {
		return nil, err
	}
	name = arn[strings.LastIndexByte(arn, ':')+1:]
	fifo := strings.HasSuffix(name, ".fifo")
	return &topic{
		c:      client,
		arn:    arn,
		name:   name,
		caps:   Capabilities(fifo),
		target: awsmq.Target{FIFO: fifo, MaxSize: MaxMessageSize, WithID: true, Name: "sns: topic " + name},
		Handle: awsmq.Handle{Conn: conn},
	}, nil
}

// SendBatch implements driver.Topic with PublishBatch (batches of up to 10
// and 256 KiB). Each message gets an ID made by the driver and carried to
// subscribers in the portmq-id attribute, because subscribers do not see
// the ID SNS assigns.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.IsClosed() {
		return errTopicClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	enc := make([]awsmq.Encoded, len(msgs))
	for i := range msgs {
		if msgs[i].Delay > 0 {
			return driver.NewError(driver.InvalidArgument, "sns: SNS takes no per-message delay")
		}
		if err := awsmq.Encode(&msgs[i], &t.target, &enc[i]); err != nil {
			return err
		}
	}
	errs := make([]error, len(msgs))
	batches := awsmq.EntryBatches(enc, MaxMessageSize, func(i int, id *string) snstypes.PublishBatchRequestEntry {
		en := snstypes.PublishBatchRequestEntry{Id: id, Message: aws.String(enc[i].Body), MessageAttributes: attrMap(enc[i].Attrs)}
		en.MessageGroupId, en.MessageDeduplicationId = enc[i].FIFO()
		return en
	})
	for start, entries := range batches {
		t.publish(ctx, entries, errs[start:start+len(entries)])
	}
	for i := range msgs {
		if errs[i] == nil {
			msgs[i].ID = enc[i].ID
		}
	}
	return driver.BatchResult(errs)
}

// publish sends one batch and sets errs for the entries that failed.
func (t *topic) publish(ctx context.Context, entries []snstypes.PublishBatchRequestEntry, errs []error) {
	out, err := t.c.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(t.arn), PublishBatchRequestEntries: entries})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	done := make([]bool, len(entries))
	for _, s := range out.Successful {
		if i := awsmq.BatchIndex(s.Id, len(entries)); i >= 0 {
			done[i] = true
		}
	}
	for _, f := range out.Failed {
		if i := awsmq.BatchIndex(f.Id, len(entries)); i >= 0 {
			errs[i] = &awsmq.BatchEntryError{Service: "sns", Op: "PublishBatch", Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
			done[i] = true
		}
	}
	for i, ok := range done {
		if !ok {
			errs[i] = driver.NewError(driver.Internal, "sns: PublishBatch reported no result for a message")
		}
	}
}

func attrMap(attrs []awsmq.Attr) map[string]snstypes.MessageAttributeValue {
	return awsmq.AttrMap(attrs, func(t, v *string) snstypes.MessageAttributeValue {
		return snstypes.MessageAttributeValue{DataType: t, StringValue: v}
	})
}

// Capabilities implements driver.Topic.
func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As implements driver.Common: **sns.Client (of the AWS SDK).
func (t *topic) As(i any) bool { return awsmq.As(t.c, i) }
