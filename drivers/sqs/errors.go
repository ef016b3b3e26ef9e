package sqs

import (
	"errors"
	"strconv"

	"github.com/portmq/portmq/drivers/sqs/awsmq"

	"github.com/portmq/portmq/mq/driver"
)

var (
	errTopicClosed = driver.NewError(driver.Closed, "sqs: topic is closed")
	errSubClosed   = driver.NewError(driver.Closed, "sqs: subscription is closed")
	errAdminClosed = driver.NewError(driver.Closed, "sqs: admin is closed")
)

// leaseExpired is the error of an AckID whose lease ended, that was
// settled already, or that this subscription did not hand out; cause, if
// not nil, is what SQS said.
func leaseExpired(cause error) error {
	return &driver.Error{Code: driver.FailedPrecondition, Msg: driver.MsgLeaseExpired, Err: cause}
}

// batchEntryIsExpired reports whether a failed batch entry says the
// receipt handle is no longer valid.
func batchEntryIsExpired(err error) bool {
	var be *awsmq.BatchEntryError
	if !errors.As(err, &be) {
		return false
	}
	switch be.Code {
	case "ReceiptHandleIsInvalid", "AWS.SimpleQueueService.ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight":
		return true
	}
	return false
}

func quote(s string) string { return strconv.Quote(s) }
