package sqs

import (
	"context"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/mq/driver"
)

var _ driver.Backlogger = (*subscription)(nil)

// Backlog implements driver.Backlogger: the queue's
// ApproximateNumberOfMessages plus ApproximateNumberOfMessagesDelayed
// (messages waiting to be delivered; those in flight are not counted).
func (s *subscription) Backlog(ctx context.Context) (int64, error) {
	out, err := s.c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.q.url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, k := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed} {
		v, _ := strconv.ParseInt(out.Attributes[string(k)], 10, 64)
		n += v
	}
	return n, nil
}
