package awsmq

import (
	"errors"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/portmq/portmq/mq/driver"
)

// codes maps the error codes of SQS and SNS (both their JSON names and the
// older query-protocol names) to portmq codes.
var codes = map[string]driver.ErrorCode{
	// Missing resources.
	"QueueDoesNotExist":                       driver.NotFound,
	"AWS.SimpleQueueService.NonExistentQueue": driver.NotFound,
	"ResourceNotFoundException":               driver.NotFound,
	"NotFound":                                driver.NotFound,
	"NotFoundException":                       driver.NotFound,
	// Existing resources.
	"QueueNameExists":                                     driver.AlreadyExists,
	"QueueAlreadyExists":                                  driver.AlreadyExists,
	"AWS.SimpleQueueService.QueueDeletedRecently":         driver.FailedPrecondition,
	"QueueDeletedRecently":                                driver.FailedPrecondition,
	"PurgeQueueInProgress":                                driver.FailedPrecondition,
	"AWS.SimpleQueueService.PurgeQueueInProgress":         driver.FailedPrecondition,
	"ReceiptHandleIsInvalid":                              driver.FailedPrecondition,
	"MessageNotInflight":                                  driver.FailedPrecondition,
	"AWS.SimpleQueueService.MessageNotInflight":           driver.FailedPrecondition,
	"InvalidParameterCombination":                         driver.InvalidArgument,
	"InvalidParameterValue":                               driver.InvalidArgument,
	"InvalidParameter":                                    driver.InvalidArgument,
	"InvalidAttributeName":                                driver.InvalidArgument,
	"InvalidAttributeValue":                               driver.InvalidArgument,
	"InvalidMessageContents":                              driver.InvalidArgument,
	"InvalidBatchEntryId":                                 driver.InvalidArgument,
	"AWS.SimpleQueueService.InvalidBatchEntryId":          driver.InvalidArgument,
	"BatchEntryIdsNotDistinct":                            driver.InvalidArgument,
	"AWS.SimpleQueueService.BatchEntryIdsNotDistinct":     driver.InvalidArgument,
	"BatchRequestTooLong":                                 driver.InvalidArgument,
	"AWS.SimpleQueueService.BatchRequestTooLong":          driver.InvalidArgument,
	"EmptyBatchRequest":                                   driver.InvalidArgument,
	"AWS.SimpleQueueService.EmptyBatchRequest":            driver.InvalidArgument,
	"TooManyEntriesInBatchRequest":                        driver.InvalidArgument,
	"AWS.SimpleQueueService.TooManyEntriesInBatchRequest": driver.InvalidArgument,
	"MissingParameter":                                    driver.InvalidArgument,
	"InvalidIdFormat":                                     driver.InvalidArgument,
	"InvalidAddress":                                      driver.InvalidArgument,
	"ValidationError":                                     driver.InvalidArgument,
	"ValidationException":                                 driver.InvalidArgument,
	"UnsupportedOperation":                                driver.Unsupported,
	"AWS.SimpleQueueService.UnsupportedOperation":         driver.Unsupported,
	// Credentials and permissions.
	"AccessDenied":                           driver.PermissionDenied,
	"AccessDeniedException":                  driver.PermissionDenied,
	"AuthorizationError":                     driver.PermissionDenied,
	"KmsAccessDenied":                        driver.PermissionDenied,
	"KMS.AccessDeniedException":              driver.PermissionDenied,
	"InvalidClientTokenId":                   driver.Unauthenticated,
	"UnrecognizedClientException":            driver.Unauthenticated,
	"SignatureDoesNotMatch":                  driver.Unauthenticated,
	"IncompleteSignature":                    driver.Unauthenticated,
	"MissingAuthenticationToken":             driver.Unauthenticated,
	"ExpiredToken":                           driver.Unauthenticated,
	"ExpiredTokenException":                  driver.Unauthenticated,
	"InvalidSecurity":                        driver.Unauthenticated,
	"AWS.SimpleQueueService.InvalidSecurity": driver.Unauthenticated,
	// Limits and outages.
	"RequestThrottled":          driver.ResourceExhausted,
	"Throttling":                driver.ResourceExhausted,
	"ThrottlingException":       driver.ResourceExhausted,
	"Throttled":                 driver.ResourceExhausted,
	"OverLimit":                 driver.ResourceExhausted,
	"KmsThrottled":              driver.ResourceExhausted,
	"KMSThrottlingException":    driver.ResourceExhausted,
	"TopicLimitExceeded":        driver.ResourceExhausted,
	"SubscriptionLimitExceeded": driver.ResourceExhausted,
	"InternalError":             driver.Unavailable,
	"InternalFailure":           driver.Unavailable,
	"ServiceUnavailable":        driver.Unavailable,
	"RequestTimeout":            driver.Unavailable,
}

// ErrorCode classifies an error returned by the AWS SDK or by this
// package: a *driver.Error keeps its code, an AWS API error is classified
// by its error code (then by its HTTP status), and an error reaching the
// endpoint is Unavailable.
func ErrorCode(err error) driver.ErrorCode { return classifier.Code(err) }

var classifier = driver.Classifier{Native: awsCode}

// awsCode classifies the AWS SDK's errors.
func awsCode(err error) (driver.ErrorCode, bool) {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		code := ae.ErrorCode()
		if c, ok := codes[code]; ok {
			return c, true
		}
		if strings.HasPrefix(code, "Kms") || strings.HasPrefix(code, "KMS") {
			return driver.FailedPrecondition, true
		}
	}
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok {
		switch s := re.HTTPStatusCode(); {
		case s == 401:
			return driver.Unauthenticated, true
		case s == 403:
			return driver.PermissionDenied, true
		case s == 404:
			return driver.NotFound, true
		case s == 429:
			return driver.ResourceExhausted, true
		case s >= 500:
			return driver.Unavailable, true
		case s >= 400:
			return driver.InvalidArgument, true
		}
	}
	_, sendErr := errors.AsType[*smithyhttp.RequestSendError](err)
	return driver.Unavailable, sendErr
}

// ErrorAs is driver.ErrorAs: errors.As that reports false, instead of
// panicking, when i is not a non-nil pointer to an interface or to a type
// implementing error.
func ErrorAs(err error, i any) bool { return driver.ErrorAs(err, i) }

// BatchEntryError is the error of one entry of a batch request (send,
// delete, change visibility, publish) that failed while others
// succeeded. It implements smithy.APIError, so that it is classified like
// the same error of a whole request. Reach it with errors.As (or mq's
// ErrorAs).
type BatchEntryError struct {
	Service     string // "sqs" or "sns"
	Op          string // for example "DeleteMessageBatch"
	Code        string // for example "ReceiptHandleIsInvalid"
	Message     string
	SenderFault bool
}

func (e *BatchEntryError) Error() string {
	return e.Service + ": " + e.Op + ": " + e.Code + ": " + e.Message
}

// ErrorCode implements smithy.APIError.
func (e *BatchEntryError) ErrorCode() string { return e.Code }

// ErrorMessage implements smithy.APIError.
func (e *BatchEntryError) ErrorMessage() string { return e.Message }

// ErrorFault implements smithy.APIError.
func (e *BatchEntryError) ErrorFault() smithy.ErrorFault {
	if e.SenderFault {
		return smithy.FaultClient
	}
	return smithy.FaultServer
}

// As implements an As method that accepts a *T (typically a pointer to a
// client pointer): it sets *i to v.
func As[T any](v T, i any) bool {
	if p, ok := i.(*T); ok && p != nil {
		*p = v
		return true
	}
	return false
}
