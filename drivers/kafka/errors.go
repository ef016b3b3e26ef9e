package kafka

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
)

// invalid returns an InvalidArgument error for a bad option.
func invalid(format string, args ...any) error {
	return &driver.Error{Code: driver.InvalidArgument, Msg: "kafka: " + fmt.Sprintf(format, args...)}
}

// urlError returns an error for a bad URL; mq classifies it
// InvalidArgument. It never contains the URL itself.
func urlError(format string, args ...any) error {
	return driver.QueryError(Scheme, fmt.Sprintf(format, args...))
}

var errClosed = &driver.Error{Code: driver.Closed, Msg: "kafka: handle is closed"}

// wrap gives a native error a message naming what failed, keeping the
// native error reachable.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &driver.Error{Code: errorCode(err), Msg: "kafka: " + what, Err: err}
}

// classifier is the driver's error chain: franz-go's sentinels and
// Kafka's error codes after the driver's errors, before the network's; a
// connection franz-go saw closed at once, and Kafka's other retriable
// errors, after.
var classifier = driver.Classifier{
	Native: func(err error) (driver.ErrorCode, bool) {
		switch {
		case errors.Is(err, kgo.ErrClientClosed):
			return driver.Closed, true
		case errors.Is(err, kgo.ErrMaxBuffered):
			return driver.ResourceExhausted, true
		case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
			return driver.Unavailable, true
		}
		if ke, ok := errors.AsType[*kerr.Error](err); ok {
			return kerrCode(ke), true
		}
		return driver.Unknown, false
	},
	Fallback: func(err error) (driver.ErrorCode, bool) {
		_, firstReadEOF := errors.AsType[*kgo.ErrFirstReadEOF](err)
		return driver.Unavailable, firstReadEOF || kerr.IsRetriable(err)
	},
}

// errorCode classifies an error from this driver, franz-go or the network.
func errorCode(err error) driver.ErrorCode { return classifier.Code(err) }

func kerrCode(ke *kerr.Error) driver.ErrorCode {
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return driver.NotFound
	case kerr.TopicAlreadyExists:
		return driver.AlreadyExists
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed:
		return driver.PermissionDenied
	case kerr.SaslAuthenticationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism:
		return driver.Unauthenticated
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidTopicException, kerr.InvalidRecord,
		kerr.InvalidConfig, kerr.InvalidPartitions, kerr.InvalidReplicationFactor, kerr.InvalidRequest,
		kerr.PolicyViolation, kerr.InvalidGroupID:
		return driver.InvalidArgument
	case kerr.NonEmptyGroup, kerr.InvalidRecordState, kerr.InconsistentGroupProtocol:
		return driver.FailedPrecondition
	case kerr.ThrottlingQuotaExceeded:
		return driver.ResourceExhausted
	case kerr.UnsupportedVersion:
		return driver.Unsupported
	}
	if ke.Retriable {
		return driver.Unavailable
	}
	return driver.Unknown
}
