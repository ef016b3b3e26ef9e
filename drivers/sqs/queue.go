package sqs

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// Limits of SQS.
const (
	// MaxVisibility is the longest visibility timeout, and the longest a
	// received message can be kept invisible in total.
	MaxVisibility = 12 * time.Hour
	// MaxDelay is the longest DelaySeconds.
	MaxDelay = 15 * time.Minute
	// MaxWait is the longest long poll.
	MaxWait = 20 * time.Second
	// defaultMaxSize is assumed when the queue's attributes cannot be read.
	defaultMaxSize = 256 << 10
	// maxBatchBytes caps the total size of one SendMessageBatch.
	maxBatchBytes = 1 << 20
	// maxReceiveCountLimit is the largest maxReceiveCount of a redrive
	// policy.
	maxReceiveCountLimit = 1000
)

// queue is what the driver knows of one queue.
type queue struct {
	url        string
	name       string
	arn        string
	fifo       bool
	maxSize    int
	visibility time.Duration
	redrive    *redrivePolicy
}

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     int    `json:"maxReceiveCount"`
}

// UnmarshalJSON accepts maxReceiveCount as a number or a string, as SQS
// and its emulators write it either way.
func (r *redrivePolicy) UnmarshalJSON(b []byte) error {
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.DeadLetterTargetArn = raw.DeadLetterTargetArn
	s := strings.Trim(string(raw.MaxReceiveCount), `"`)
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	r.MaxReceiveCount = n
	return nil
}

// isURL reports whether s is a queue URL rather than a queue name.
func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// nameFromURL returns the last path segment of a queue URL.
func nameFromURL(u string) string {
	return u[strings.LastIndexByte(u, '/')+1:]
}

// validQueueName reports whether s is a valid SQS queue name: 1 to 80
// characters of A-Z a-z 0-9 _ -, where a FIFO queue's name ends in .fifo.
func validQueueName(s string) bool { return awsmq.ValidName(s, 80) }

// queueURL returns the URL of the queue named (or located) by q.
func queueURL(ctx context.Context, c *awssqs.Client, q, owner string) (string, error) {
	if isURL(q) {
		return q, nil
	}
	in := &awssqs.GetQueueUrlInput{QueueName: aws.String(q)}
	if owner != "" {
		in.QueueOwnerAWSAccountId = aws.String(owner)
	}
	out, err := c.GetQueueUrl(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// loadQueue resolves q (a name or a URL) and reads its attributes. If the
// attributes cannot be read for lack of permission (a producer allowed
// only to send), it assumes a standard or FIFO queue by name and the
// smallest maximum message size.
func loadQueue(ctx context.Context, c *awssqs.Client, q, owner string) (*queue, error) {
	u, err := queueURL(ctx, c, q, owner)
	if err != nil {
		return nil, err
	}
	qu := &queue{url: u, name: nameFromURL(u)}
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(u),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameQueueArn,
			sqstypes.QueueAttributeNameMaximumMessageSize,
			sqstypes.QueueAttributeNameVisibilityTimeout,
			sqstypes.QueueAttributeNameRedrivePolicy,
			sqstypes.QueueAttributeNameFifoQueue,
		},
	})
	if err != nil {
		if awsmq.ErrorCode(err) != driver.PermissionDenied {
			return nil, err
		}
		qu.fifo = strings.HasSuffix(qu.name, ".fifo")
		qu.maxSize = defaultMaxSize
		qu.visibility = 30 * time.Second
		return qu, nil
	}
	a := out.Attributes
	qu.arn = a[string(sqstypes.QueueAttributeNameQueueArn)]
	qu.fifo = a[string(sqstypes.QueueAttributeNameFifoQueue)] == "true"
	qu.maxSize = defaultMaxSize
	if n, err := strconv.Atoi(a[string(sqstypes.QueueAttributeNameMaximumMessageSize)]); err == nil && n > 0 {
		qu.maxSize = n
	}
	qu.visibility = 30 * time.Second
	if n, err := strconv.Atoi(a[string(sqstypes.QueueAttributeNameVisibilityTimeout)]); err == nil && n >= 0 {
		qu.visibility = time.Duration(n) * time.Second
	}
	if rp := a[string(sqstypes.QueueAttributeNameRedrivePolicy)]; rp != "" {
		var p redrivePolicy
		if err := json.Unmarshal([]byte(rp), &p); err == nil && p.DeadLetterTargetArn != "" && p.MaxReceiveCount > 0 {
			qu.redrive = &p
		}
	}
	return qu, nil
}

// arnParts splits arn:PARTITION:sqs:REGION:ACCOUNT:NAME into account and
// name.
func arnParts(arn string) (account, name string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" {
		return "", "", false
	}
	return p[4], p[5], true
}

// queueByARN resolves the queue an ARN names.
func queueByARN(ctx context.Context, c *awssqs.Client, arn string) (*queue, error) {
	account, name, ok := arnParts(arn)
	if !ok {
		return nil, driver.NewError(driver.InvalidArgument, "sqs: malformed queue ARN "+strconv.Quote(arn))
	}
	return loadQueue(ctx, c, name, account)
}
