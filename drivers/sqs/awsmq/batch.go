package awsmq

import (
	"iter"
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

// Batches yields the bounds [lo, hi) of consecutive runs of enc with at
// most MaxBatch messages and at most maxBytes bytes (a message larger than
// maxBytes goes alone).
func Batches(enc []Encoded, maxBytes int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for lo := 0; lo < len(enc); {
			hi, bytes := lo, 0
			for hi < len(enc) && hi-lo < MaxBatch && (hi == lo || bytes+enc[hi].Size <= maxBytes) {
				bytes += enc[hi].Size
				hi++
			}
			if !yield(lo, hi) {
				return
			}
			lo = hi
		}
	}
}

// EntryBatches yields the runs of enc that Batches yields as the entries
// of one batch request each, with the index of the run's first message:
// entry makes the entry of enc[i], whose entry ID is id. The slice is
// reused for the next run.
func EntryBatches[E any](enc []Encoded, maxBytes int, entry func(i int, id *string) E) iter.Seq2[int, []E] {
	return func(yield func(int, []E) bool) {
		entries := make([]E, 0, min(len(enc), MaxBatch))
		for lo, hi := range Batches(enc, maxBytes) {
			entries = entries[:0]
			for i := lo; i < hi; i++ {
				entries = append(entries, entry(i, BatchIDs[i-lo]))
			}
			if !yield(lo, entries) {
				return
			}
		}
	}
}

// FIFO returns the message group and deduplication IDs of a batch entry
// for e: both nil unless e goes to a FIFO queue or topic.
func (e *Encoded) FIFO() (groupID, dedupID *string) {
	if e.GroupID == "" {
		return nil, nil
	}
	return aws.String(e.GroupID), aws.String(e.DedupID)
}

// AttrMap converts attributes to an SDK's message attributes (SQS's or
// SNS's type), each made by value from its DataType and StringValue; nil
// for none.
func AttrMap[V any](attrs []Attr, value func(dataType, stringValue *string) V) map[string]V {
	if len(attrs) == 0 {
		return nil
	}
	m := make(map[string]V, len(attrs))
	for _, a := range attrs {
		m[a.Name] = value(StringType, aws.String(a.Value))
	}
	return m
}

// Errors implements the ErrorAs and ErrorCode methods of driver.Common
// for the sqs and sns drivers' handles, which embed it.
type Errors struct{}

// ErrorAs implements driver.Common.
func (Errors) ErrorAs(err error, i any) bool { return ErrorAs(err, i) }

// ErrorCode implements driver.Common.
func (Errors) ErrorCode(err error) driver.ErrorCode { return ErrorCode(err) }
