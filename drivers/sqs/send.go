package sqs

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// attrMap converts attributes to the SDK's form.
func attrMap(attrs []awsmq.Attr) map[string]sqstypes.MessageAttributeValue {
	return awsmq.AttrMap(attrs, func(t, v *string) sqstypes.MessageAttributeValue {
		return sqstypes.MessageAttributeValue{DataType: t, StringValue: v}
	})
}

// delaySeconds converts a Delay to DelaySeconds, rounding up.
func delaySeconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32(awsmq.CeilSeconds(d) / time.Second)
}

// sendEncoded sends enc to the queue at url in batches of at most 10
// entries and maxBatchBytes. It sets ids[i] for each message sent and
// errs[i] for each one that failed, and reports whether any failed.
func sendEncoded(ctx context.Context, c *awssqs.Client, url string, enc []awsmq.Encoded, delays []time.Duration, ids []string, errs []error) bool {
	failed := false
	batches := awsmq.EntryBatches(enc, maxBatchBytes, func(i int, id *string) sqstypes.SendMessageBatchRequestEntry {
		en := sqstypes.SendMessageBatchRequestEntry{Id: id, MessageBody: aws.String(enc[i].Body), MessageAttributes: attrMap(enc[i].Attrs)}
		if delays != nil {
			en.DelaySeconds = delaySeconds(delays[i])
		}
		en.MessageGroupId, en.MessageDeduplicationId = enc[i].FIFO()
		return en
	})
	for start, entries := range batches {
		end := start + len(entries)
		out, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil {
			for i := start; i < end; i++ {
				errs[i] = err
			}
			failed = true
			continue
		}
		done := 0
		for _, s := range out.Successful {
			if i := awsmq.BatchIndex(s.Id, end-start); i >= 0 {
				ids[start+i] = aws.ToString(s.MessageId)
				done++
			}
		}
		for _, f := range out.Failed {
			if i := awsmq.BatchIndex(f.Id, end-start); i >= 0 {
				errs[start+i] = entryError("SendMessageBatch", &f)
				failed = true
			}
		}
		if done+len(out.Failed) < end-start {
			for i := start; i < end; i++ {
				if ids[i] == "" && errs[i] == nil {
					errs[i] = driver.NewError(driver.Internal, "sqs: SendMessageBatch reported no result for a message")
					failed = true
				}
			}
		}
	}
	return failed
}

// entryError turns a failed batch entry into an error classified by its
// code.
func entryError(op string, f *sqstypes.BatchResultErrorEntry) error {
	return &awsmq.BatchEntryError{Service: "sqs", Op: op, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault}
}
