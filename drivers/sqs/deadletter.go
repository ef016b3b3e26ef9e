package sqs

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// dlqTarget is the dead-letter queue of a subscription's redrive policy,
// resolved on first use.
type dlqTarget struct {
	mu sync.Mutex
	q  *queue
}

func (s *subscription) deadLetterQueue(ctx context.Context) (*queue, error) {
	if s.q.redrive == nil {
		return nil, &driver.Error{Code: driver.Unsupported, Msg: "sqs: queue " + s.q.name + " has no redrive policy, so no dead-letter queue", Err: errors.ErrUnsupported}
	}
	s.dlq.mu.Lock()
	defer s.dlq.mu.Unlock()
	if s.dlq.q == nil {
		q, err := queueByARN(ctx, s.c, s.q.redrive.DeadLetterTargetArn)
		if err != nil {
			return nil, err
		}
		s.dlq.q = q
	}
	return s.dlq.q, nil
}

// DeadLetter implements driver.DeadLetterer: it sends each message to the
// dead-letter queue of the queue's redrive policy, with its body,
// attributes, Key and DedupID and the attributes portmq-dead-letter-reason,
// portmq-attempts and portmq-source, then deletes the original. A message
// that could not be sent is handed back (visibility 0). If the delete
// fails after the send, the message is in the dead-letter queue and will
// also be delivered again: a duplicate, never a loss.
func (s *subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	if s.isClosed() {
		return errSubClosed
	}
	ids := make([]driver.AckID, len(items))
	for i := range items {
		ids[i] = items[i].AckID
	}
	var errs []error
	rs, idx := s.receipts(ids, time.Now(), &errs)
	reasons := make([]string, len(rs))
	for k := range rs {
		reasons[k] = items[idx[k]].Reason
	}
	s.deadLetter(ctx, rs, idx, reasons, len(items), &errs)
	return driver.BatchResult(errs)
}

func (s *subscription) deadLetter(ctx context.Context, rs []*receipt, idx []int, reasons []string, n int, errs *[]error) {
	dlq, err := s.deadLetterQueue(ctx)
	if err != nil {
		for _, i := range idx {
			setErr(errs, n, i, err)
		}
		s.release(ctx, rs)
		return
	}
	target := awsmq.Target{FIFO: dlq.fifo, MaxSize: dlq.maxSize, Name: "sqs: dead-letter queue " + dlq.name}
	enc := make([]awsmq.Encoded, 0, len(rs))
	var send, back []*receipt
	var sendIdx []int
	for k, r := range rs {
		var m driver.Message
		awsmq.Decode(r.msg, &m)
		m = redeliver.DeadLetter(&m, reasons[k], r.attempt, s.info.Name, 0)
		enc = append(enc, awsmq.Encoded{})
		if err := awsmq.Encode(&m, &target, &enc[len(enc)-1]); err != nil {
			enc = enc[:len(enc)-1]
			setErr(errs, n, idx[k], err)
			back = append(back, r)
			continue
		}
		send, sendIdx = append(send, r), append(sendIdx, idx[k])
	}
	ids := make([]string, len(enc))
	sendErrs := make([]error, len(enc))
	sendEncoded(ctx, s.c, dlq.url, enc, nil, ids, sendErrs)
	var sent []*receipt
	var sentIdx []int
	for j, r := range send {
		if sendErrs[j] != nil {
			setErr(errs, n, sendIdx[j], sendErrs[j])
			back = append(back, r)
			continue
		}
		sent, sentIdx = append(sent, r), append(sentIdx, sendIdx[j])
	}
	if len(back) > 0 {
		s.release(ctx, back)
	}
	if len(sent) > 0 {
		s.deleteReceipts(ctx, sent, sentIdx, n, errs)
	}
}

// release hands deliveries back at once (visibility 0), ignoring
// failures: a delivery not handed back returns when its lease ends.
func (s *subscription) release(ctx context.Context, rs []*receipt) {
	var errs []error
	s.changeVisibility(ctx, rs, seq(len(rs)), len(rs), &errs, 0, nil)
}

// seq returns 0, 1, ..., n-1.
func seq(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// deleteReceipts deletes the messages of rs (at most 10; DeleteMessageBatch) and
// settles them; failures set errs at idx.
func (s *subscription) deleteReceipts(ctx context.Context, rs []*receipt, idx []int, n int, errs *[]error) {
	oneRequest(rs, idx, n, errs, func() {
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(rs))
		for i, r := range rs {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: awsmq.BatchIDs[i], ReceiptHandle: r.msg.ReceiptHandle}
		}
		out, err := s.c.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(s.q.url), Entries: entries})
		var ok []*string
		var failed []sqstypes.BatchResultErrorEntry
		if out != nil {
			ok, failed = entryIDs(out.Successful, func(e *sqstypes.DeleteMessageBatchResultEntry) *string { return e.Id }), out.Failed
		}
		s.settleBatch(rs, idx, n, errs, "DeleteMessageBatch", err, ok, failed, nil)
	})
}

// source is a queue whose redrive policy moves messages to this one.
type source struct {
	name       string
	maxReceive int // 0 if unknown
}

// loadSources finds the queues whose redrive policy targets the queue at
// url (ListDeadLetterSourceQueues), for annotating the messages SQS moves
// here. It returns nil when there are none or they cannot be listed.
func loadSources(ctx context.Context, c *awssqs.Client, url string) *source {
	out, err := c.ListDeadLetterSourceQueues(ctx, &awssqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(url)})
	if err != nil || len(out.QueueUrls) == 0 {
		return nil
	}
	var names []string
	maxReceive := -1
	for _, u := range out.QueueUrls {
		names = append(names, nameFromURL(u))
		n := 0
		if q, err := loadQueue(ctx, c, u, ""); err == nil && q.redrive != nil {
			n = q.redrive.MaxReceiveCount
		}
		switch maxReceive {
		case -1:
			maxReceive = n
		case n:
		default:
			maxReceive = 0 // several sources, several counts: unknown
		}
	}
	return &source{name: strings.Join(names, ","), maxReceive: max(maxReceive, 0)}
}

// annotate adds portmq's dead-letter attributes to a message SQS moved
// here by a redrive policy (it has none of its own): the reason, the
// attempts (the source's maxReceiveCount, after which SQS moves a
// message) and the source queue. The source comes from the message's
// DeadLetterQueueSourceArn, or else from the queues whose policy targets
// this queue when the subscription was opened.
func (s *subscription) annotate(d *driver.Message, m *sqstypes.Message) {
	if _, ok := d.Attributes[driver.AttrDeadLetterReason]; ok {
		return
	}
	src := s.sources
	if arn := m.Attributes[string(sqstypes.MessageSystemAttributeNameDeadLetterQueueSourceArn)]; arn != "" {
		src = s.sourceByARN(arn)
	}
	if src == nil {
		return
	}
	attrs := make(map[string]string, len(d.Attributes)+3)
	for k, v := range d.Attributes {
		attrs[k] = v
	}
	if src.maxReceive > 0 {
		attrs[driver.AttrDeadLetterReason] = "max attempts (" + strconv.Itoa(src.maxReceive) + ") reached (SQS redrive policy)"
		attrs[driver.AttrAttempts] = strconv.Itoa(src.maxReceive)
	} else {
		attrs[driver.AttrDeadLetterReason] = "moved by an SQS redrive policy"
	}
	attrs[driver.AttrSource] = src.name
	d.Attributes = attrs
}

// sourceByARN returns the source queue an ARN names, looking up its
// redrive policy once.
func (s *subscription) sourceByARN(arn string) *source {
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	if src, ok := s.srcByARN[arn]; ok {
		return src
	}
	_, name, _ := arnParts(arn)
	src := &source{name: name}
	ctx, cancel := context.WithTimeout(s.pollCtx, 10*time.Second)
	if q, err := queueByARN(ctx, s.c, arn); err == nil && q.redrive != nil {
		src.maxReceive = q.redrive.MaxReceiveCount
	}
	cancel()
	s.srcByARN[arn] = src
	return src
}

// entryIDs returns the entry IDs of a batch request's results.
func entryIDs[T any](entries []T, id func(*T) *string) []*string {
	ids := make([]*string, len(entries))
	for i := range entries {
		ids[i] = id(&entries[i])
	}
	return ids
}
