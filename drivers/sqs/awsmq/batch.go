package awsmq

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/portmq/portmq/mq/driver"
)

// StringType is the DataType of the attributes portmq sends.
var StringType = aws.String(stringType)

// BatchIDs are the entry IDs of a batch request: the index in the batch.
var BatchIDs = func() []*string {
	ids := make([]*string, MaxBatch)
	for i := range ids {
		ids[i] = aws.String(strconv.Itoa(i))
	}
	return ids
}()

// BatchIndex returns the index a batch entry ID stands for, or -1 if it
// is not one of the first n.
func BatchIndex(id *string, n int) int {
	if id == nil {
		return -1
	}
	i, err := strconv.Atoi(*id)
	if err != nil || i < 0 || i >= n {
		return -1
	}
	return i
}

// BatchResult turns per-item errors into a call's result: nil when all
// succeeded, the error itself when every item failed with the same error
// (a failed request), else a *driver.BatchError.
func BatchResult(errs []error) error {
	var first error
	same := true
	for _, err := range errs {
		switch {
		case err == nil:
			same = false
		case first == nil:
			first = err
		case err != first:
			same = false
		}
	}
	switch {
	case first == nil:
		return nil
	case same:
		return first
	}
	return &driver.BatchError{Errs: errs}
}
