package sns

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq/driver"
)

// TestPublishReportsEachEntry has moto reject one entry of a batch (a
// message over SNS's size, which the driver itself never sends) and checks
// that the failure is that entry's alone.
func TestPublishReportsEachEntry(t *testing.T) {
	t.Parallel()
	srv := sqstest.Shared(t)
	if !srv.Moto {
		t.Skip("relies on moto failing one entry of a batch")
	}
	ctx := context.Background()
	c := awssns.NewFromConfig(srv.Config(t))
	out, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("publish-entries-" + awsmq.NewID()[:8])})
	if err != nil {
		t.Fatal(err)
	}
	defer c.DeleteTopic(context.Background(), &awssns.DeleteTopicInput{TopicArn: out.TopicArn})
	tp := &topic{c: c, arn: aws.ToString(out.TopicArn)}
	entries := []snstypes.PublishBatchRequestEntry{
		{Id: awsmq.BatchIDs[0], Message: aws.String("fine")},
		{Id: awsmq.BatchIDs[1], Message: aws.String(strings.Repeat("x", MaxMessageSize+1))},
		{Id: awsmq.BatchIDs[2], Message: aws.String("fine too")},
	}
	errs := make([]error, 3)
	tp.publish(ctx, entries, errs)
	var be *awsmq.BatchEntryError
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &be) || awsmq.ErrorCode(errs[1]) != driver.InvalidArgument {
		t.Fatalf("errors %v, want only the second entry to fail with InvalidArgument", errs)
	}
	var batch *driver.BatchError
	if !errors.As(driver.BatchResult(errs), &batch) {
		t.Errorf("BatchResult of a partial failure is not a *driver.BatchError")
	}
}
