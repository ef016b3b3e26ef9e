package sqs

import (
	"context"
	"time"

	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// TopicOptions configures OpenTopic. nil means the zero value.
type TopicOptions struct {
	// Owner is the AWS account ID that owns the queue, for a queue of
	// another account named by its name. Default: the caller's account.
	Owner string
}

// Capabilities returns what the driver declares for a standard queue
// (fifo false) or a FIFO queue with the given MaximumMessageSize.
func Capabilities(fifo bool, maxSize int) driver.Capabilities {
	c := driver.Capabilities{
		Lease:       driver.Native,
		NackDelay:   driver.Native,
		Attempts:    driver.Native,
		DeadLetter:  driver.Native,
		Dedup:       driver.None,
		Ordering:    driver.None,
		Delay:       driver.Native,
		Seek:        driver.None,
		MaxBodySize: awsmq.MaxBinaryBody(maxSize, 0),
		MaxBatch:    awsmq.MaxBatch,
		MaxDelay:    MaxDelay,
		// ChangeMessageVisibility takes up to 12 h: Nack delays beyond
		// Delay's 15 minutes are native too.
		MaxNackDelay: MaxVisibility,
		MinLease:     time.Second,
		MaxLease:     MaxVisibility,
		Granularity:  time.Second,
	}
	if fifo {
		// FIFO queues deduplicate and order natively but take no
		// per-message delay: mq emulates Delay. Messages carry portmq's
		// own ID (see OpenTopic), which takes room from the body.
		c.Dedup, c.Ordering, c.Delay = driver.Native, driver.Native, driver.None
		c.MaxBodySize = awsmq.MaxBinaryBody(maxSize, awsmq.IDOverhead)
	}
	return c
}

// topic sends to one queue.
type topic struct {
	awsmq.Handle
	c      *awssqs.Client
	q      *queue
	caps   driver.Capabilities
	target awsmq.Target
}

var _ driver.Topic = (*topic)(nil)

// OpenTopic returns a driver.Topic that sends to the queue named by queue
// (its name, or its URL). The client stays the caller's: Close does not
// touch it. Wrap the result with mq.NewProducer.
func OpenTopic(ctx context.Context, client *awssqs.Client, queue string, opts *TopicOptions) (driver.Topic, error) {
	return openTopic(ctx, client, queue, opts, nil)
}

func openTopic(ctx context.Context, client *awssqs.Client, name string, opts *TopicOptions, conn *awsmq.Conn) (*topic, error) {
	if client == nil {
		return nil, driver.NewError(driver.InvalidArgument, "sqs: nil client")
	}
	if opts == nil {
		opts = &TopicOptions{}
	}
	if err := checkQueueArg(name); err != nil {
		return nil, err
	}
	q, err := loadQueue(ctx, client, name, opts.Owner)
	if err != nil {
		return nil, openError("opening queue "+quote(name), err)
	}
	return &topic{
		c:    client,
		q:    q,
		caps: Capabilities(q.fifo, q.maxSize),
		// On FIFO queues the ID is portmq's own, carried in an attribute:
		// a send the SDK retried is dropped by SQS's deduplication, and
		// the MessageId of the retry's answer need not be the one delivered.
		target: awsmq.Target{FIFO: q.fifo, MaxSize: q.maxSize, WithID: q.fifo, Name: "sqs: queue " + q.name},
		Handle: awsmq.Handle{Conn: conn},
	}, nil
}

// checkQueueArg accepts a queue URL or a valid queue name.
func checkQueueArg(q string) error {
	if isURL(q) || validQueueName(q) {
		return nil
	}
	return driver.NewError(driver.InvalidArgument, "sqs: "+quote(q)+" is neither a queue URL nor a queue name (1 to 80 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO queue)")
}

// SendBatch implements driver.Topic: it encodes every message first (an
// over-size message fails the call before anything is sent), then sends
// them in batches of up to 10 and 1 MiB.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.IsClosed() {
		return errTopicClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	enc := make([]awsmq.Encoded, len(msgs))
	var delays []time.Duration
	for i := range msgs {
		m := &msgs[i]
		if err := awsmq.Encode(m, &t.target, &enc[i]); err != nil {
			return err
		}
		if m.Delay > 0 {
			if m.Delay > MaxDelay {
				return driver.NewError(driver.InvalidArgument, "sqs: Delay "+m.Delay.String()+" exceeds the 15-minute maximum of DelaySeconds")
			}
			if delays == nil {
				delays = make([]time.Duration, len(msgs))
			}
			delays[i] = m.Delay
		}
	}
	ids := make([]string, len(msgs))
	errs := make([]error, len(msgs))
	sendEncoded(ctx, t.c, t.q.url, enc, delays, ids, errs)
	for i := range msgs {
		if errs[i] == nil {
			msgs[i].ID = ids[i]
			if enc[i].ID != "" {
				msgs[i].ID = enc[i].ID
			}
		}
	}
	return driver.BatchResult(errs)
}

// Capabilities implements driver.Topic.
func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As implements driver.Common: **sqs.Client (of the AWS SDK).
func (t *topic) As(i any) bool { return awsmq.As(t.c, i) }
