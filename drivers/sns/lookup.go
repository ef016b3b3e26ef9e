package sns

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

var (
	errTopicClosed = driver.NewError(driver.Closed, "sns: topic is closed")
	errAdminClosed = driver.NewError(driver.Closed, "sns: admin is closed")
)

func quote(s string) string { return strconv.Quote(s) }

// validTopicName reports whether s is a valid SNS topic name: 1 to 256
// characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO topic.
func validTopicName(s string) bool { return awsmq.ValidName(s, 256) }

func isARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// topicARN resolves a topic name (by listing the account's topics) or
// checks a topic ARN (GetTopicAttributes). A missing topic is an error
// with code NotFound.
func topicARN(ctx context.Context, c *awssns.Client, topic string) (string, error) {
	if isARN(topic) {
		if _, err := c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)}); err != nil {
			return "", openError("topic "+topic, err)
		}
		return topic, nil
	}
	if !validTopicName(topic) {
		return "", driver.NewError(driver.InvalidArgument, "sns: topic name "+quote(topic)+" must be 1 to 256 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO topic")
	}
	arn, ok, err := findTopic(ctx, c, topic)
	if err != nil {
		return "", openError("listing topics", err)
	}
	if !ok {
		return "", driver.NewError(driver.NotFound, "sns: topic "+topic+" does not exist")
	}
	return arn, nil
}

// findTopic looks for the topic named name among the account's topics.
func findTopic(ctx context.Context, c *awssns.Client, name string) (string, bool, error) {
	p := awssns.NewListTopicsPaginator(c, &awssns.ListTopicsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", false, err
		}
		for _, t := range out.Topics {
			arn := aws.ToString(t.TopicArn)
			if strings.HasSuffix(arn, ":"+name) {
				return arn, true, nil
			}
		}
	}
	return "", false, nil
}

// openError wraps an error of opening so that mq classifies it by the
// driver's code.
func openError(what string, err error) error {
	if _, ok := err.(*driver.Error); ok {
		return err
	}
	return &driver.Error{Code: awsmq.ErrorCode(err), Msg: "sns: " + what, Err: err}
}
