package sqs

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq/driver"
)

// SubscriptionOptions configures OpenSubscription. nil means the zero
// value.
type SubscriptionOptions struct {
	// Owner is the AWS account ID that owns the queue, for a queue of
	// another account named by its name. Default: the caller's account.
	Owner string
	// Wait is how long one receive request waits for messages (long
	// polling), 1 s to 20 s in whole seconds. Default 20 s.
	Wait time.Duration
	// Visibility is the lease (visibility timeout) of each delivery, 1 s
	// to 12 h in whole seconds. Default: the queue's VisibilityTimeout, or
	// 30 s if that is 0.
	Visibility time.Duration
	// Name names the subscription in Info and in the portmq-source
	// attribute of dead letters. Default: the queue's name.
	Name string
}

// closeGrace is how long Close waits for receive requests still running
// (abandoned by their caller) before it cancels them.
const closeGrace = 5 * time.Second

// subscription receives from one queue.
type subscription struct {
	awsmq.Errors
	c        *awssqs.Client
	q        *queue
	caps     driver.Capabilities
	info     driver.SubscriptionInfo
	lease    time.Duration
	wait     time.Duration
	maxRecv  int32 // messages per ReceiveMessage
	conn     *awsmq.Conn
	sources  *source // queues whose redrive policy targets this one
	pollCtx  context.Context
	stopPoll context.CancelFunc
	polls    sync.WaitGroup
	dlq      dlqTarget
	srcMu    sync.Mutex
	srcByARN map[string]*source

	mu      sync.Mutex
	closed  bool
	out     map[*receipt]struct{} // handed out (or stashed), not settled
	stash   []driver.Message      // received by abandoned polls
	orphans []*poll               // polls whose caller left
	swept   time.Time
}

var (
	_ driver.Subscription = (*subscription)(nil)
	_ driver.DeadLetterer = (*subscription)(nil)
)

// OpenSubscription returns a driver.Subscription that receives from the
// queue named by queue (its name, or its URL). The client stays the
// caller's: Close does not touch it. Wrap the result with
// mq.NewSubscription.
func OpenSubscription(ctx context.Context, client *awssqs.Client, queue string, opts *SubscriptionOptions) (driver.Subscription, error) {
	return openSubscription(ctx, client, queue, opts, nil)
}

func openSubscription(ctx context.Context, client *awssqs.Client, name string, opts *SubscriptionOptions, conn *awsmq.Conn) (*subscription, error) {
	if client == nil {
		return nil, driver.NewError(driver.InvalidArgument, "sqs: nil client")
	}
	if opts == nil {
		opts = &SubscriptionOptions{}
	}
	if err := checkQueueArg(name); err != nil {
		return nil, err
	}
	wait := opts.Wait
	switch {
	case wait == 0:
		wait = MaxWait
	case wait < time.Second || wait > MaxWait:
		return nil, driver.NewError(driver.InvalidArgument, "sqs: Wait "+wait.String()+" is outside 1s to 20s")
	}
	if opts.Visibility != 0 && (opts.Visibility < time.Second || opts.Visibility > MaxVisibility) {
		return nil, driver.NewError(driver.InvalidArgument, "sqs: Visibility "+opts.Visibility.String()+" is outside 1s to 12h")
	}
	q, err := loadQueue(ctx, client, name, opts.Owner)
	if err != nil {
		return nil, openError("opening queue "+quote(name), err)
	}
	s := &subscription{
		c:        client,
		q:        q,
		caps:     Capabilities(q.fifo, q.maxSize),
		wait:     awsmq.CeilSeconds(wait),
		maxRecv:  awsmq.MaxBatch,
		conn:     conn,
		out:      make(map[*receipt]struct{}),
		srcByARN: make(map[string]*source),
	}
	s.lease = awsmq.CeilSeconds(opts.Visibility)
	if s.lease == 0 {
		s.lease = q.visibility
	}
	if s.lease == 0 {
		s.lease = 30 * time.Second
	}
	if q.fifo {
		// SQS hands out several messages of one group in a batch; one at
		// a time keeps one message of a key in flight.
		s.maxRecv = 1
	}
	s.info = driver.SubscriptionInfo{Name: opts.Name, Lease: s.lease, Ordered: q.fifo}
	if s.info.Name == "" {
		s.info.Name = q.name
	}
	if q.redrive != nil {
		s.info.MaxAttempts = q.redrive.MaxReceiveCount
		s.info.HasDeadLetter = true
	}
	s.sources = loadSources(ctx, client, q.url)
	s.pollCtx, s.stopPoll = context.WithCancel(context.Background())
	return s, nil
}

// Info implements driver.Subscription.
func (s *subscription) Info() driver.SubscriptionInfo { return s.info }

// Capabilities implements driver.Subscription.
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

func (s *subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Ack implements driver.Subscription with DeleteMessageBatch.
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	if s.isClosed() {
		return errSubClosed
	}
	var errs []error
	rs, idx := s.receipts(ids, time.Now(), &errs)
	s.deleteReceipts(ctx, rs, idx, len(ids), &errs)
	return driver.BatchResult(errs)
}

// oneRequest calls f on rs, which must fit one batch request: mq passes
// at most Capabilities.MaxBatch (10) IDs per call. More fail each item
// rather than reach the request.
func oneRequest(rs []*receipt, idx []int, n int, errs *[]error, f func()) {
	switch {
	case len(rs) == 0:
	case len(rs) > awsmq.MaxBatch:
		err := driver.NewError(driver.InvalidArgument, "sqs: more than "+strconv.Itoa(awsmq.MaxBatch)+" IDs in one call (Capabilities.MaxBatch)")
		for _, i := range idx {
			setErr(errs, n, i, err)
		}
	default:
		f()
	}
}

// settleBatch records the result of a batch request over rs (whose
// indexes in the call are idx): on success each receipt is settled (or,
// with onOK, handed to it); a failed entry or request sets the item's
// error.
func (s *subscription) settleBatch(rs []*receipt, idx []int, n int, errs *[]error, op string, err error, ok []*string, failed []sqstypes.BatchResultErrorEntry, onOK func(*receipt)) {
	if err != nil {
		for _, i := range idx {
			setErr(errs, n, i, err)
		}
		return
	}
	const pending, succeeded, refused = 0, 1, 2
	state := make([]uint8, len(rs))
	for _, id := range ok {
		if j := awsmq.BatchIndex(id, len(rs)); j >= 0 {
			state[j] = succeeded
		}
	}
	for k := range failed {
		j := awsmq.BatchIndex(failed[k].Id, len(rs))
		if j < 0 {
			continue
		}
		e := entryError(op, &failed[k])
		if batchEntryIsExpired(e) {
			e = leaseExpired(e)
		}
		setErr(errs, n, idx[j], e)
		state[j] = refused
	}
	var settled []*receipt
	for j, r := range rs {
		switch {
		case state[j] == refused:
		case state[j] == pending:
			setErr(errs, n, idx[j], driver.NewError(driver.Internal, "sqs: "+op+" reported no result for an entry"))
		case onOK != nil:
			onOK(r)
		default:
			settled = append(settled, r)
		}
	}
	if len(settled) > 0 {
		s.settle(settled...)
	}
}

// Nack implements driver.Subscription with ChangeMessageVisibilityBatch
// (visibility delay, rounded up to seconds). A delivery at the queue's
// maxReceiveCount is dead-lettered instead, with the reason "max attempts
// (N) reached": SQS itself would move it only when someone next receives
// from the queue.
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if s.isClosed() {
		return errSubClosed
	}
	if delay < 0 {
		return driver.NewError(driver.InvalidArgument, "sqs: negative nack delay")
	}
	now := time.Now()
	var errs []error
	rs, idx := s.receipts(ids, now, &errs)
	var back, dead []*receipt
	var backIdx, deadIdx []int
	for k, r := range rs {
		switch {
		case s.info.MaxAttempts > 0 && r.attempt >= s.info.MaxAttempts:
			dead, deadIdx = append(dead, r), append(deadIdx, idx[k])
		case !r.received.Add(MaxVisibility).After(now.Add(delay)):
			setErr(&errs, len(ids), idx[k], errTooLate("Nack", delay))
		default:
			back, backIdx = append(back, r), append(backIdx, idx[k])
		}
	}
	if len(back) > 0 {
		s.changeVisibility(ctx, back, backIdx, len(ids), &errs, delay, nil)
	}
	if len(dead) > 0 {
		reason := "max attempts (" + strconv.Itoa(s.info.MaxAttempts) + ") reached"
		reasons := make([]string, len(dead))
		for i := range reasons {
			reasons[i] = reason
		}
		s.deadLetter(ctx, dead, deadIdx, reasons, len(ids), &errs)
	}
	return driver.BatchResult(errs)
}

func errTooLate(op string, d time.Duration) error {
	return driver.NewError(driver.FailedPrecondition, "sqs: "+op+"("+d.String()+") would keep the message invisible beyond 12 h after it was received, the SQS maximum")
}

// changeVisibility sets the visibility of rs (at most 10) to d (rounded
// up to whole seconds); on success it settles them, or calls onOK instead.
func (s *subscription) changeVisibility(ctx context.Context, rs []*receipt, idx []int, n int, errs *[]error, d time.Duration, onOK func(*receipt)) {
	secs := int32(awsmq.CeilSeconds(d) / time.Second)
	oneRequest(rs, idx, n, errs, func() {
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(rs))
		for i, r := range rs {
			entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{Id: awsmq.BatchIDs[i], ReceiptHandle: r.msg.ReceiptHandle, VisibilityTimeout: secs}
		}
		out, err := s.c.ChangeMessageVisibilityBatch(ctx, &awssqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(s.q.url), Entries: entries})
		var ok []*string
		var failed []sqstypes.BatchResultErrorEntry
		if out != nil {
			ok, failed = entryIDs(out.Successful, func(e *sqstypes.ChangeMessageVisibilityBatchResultEntry) *string { return e.Id }), out.Failed
		}
		s.settleBatch(rs, idx, n, errs, "ChangeMessageVisibilityBatch", err, ok, failed, onOK)
	})
}

// Extend implements driver.Extender with ChangeMessageVisibilityBatch.
// SQS keeps a received message invisible at most 12 h after it was
// received: an extension beyond that fails with code FailedPrecondition.
func (s *subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	if s.isClosed() {
		return errSubClosed
	}
	if lease <= 0 || lease > MaxVisibility {
		return driver.NewError(driver.InvalidArgument, "sqs: lease "+lease.String()+" is outside (0, 12h]")
	}
	now := time.Now()
	var errs []error
	rs, idx := s.receipts(ids, now, &errs)
	keep, keepIdx := rs[:0:0], idx[:0:0]
	for k, r := range rs {
		if !r.received.Add(MaxVisibility).After(now.Add(lease)) {
			setErr(&errs, len(ids), idx[k], errTooLate("Extend", lease))
			continue
		}
		keep, keepIdx = append(keep, r), append(keepIdx, idx[k])
	}
	until := now.Add(lease).UnixNano()
	s.changeVisibility(ctx, keep, keepIdx, len(ids), &errs, lease, func(r *receipt) { r.deadline.Store(until) })
	return driver.BatchResult(errs)
}

// As implements driver.Common: **sqs.Client (of the AWS SDK).
func (s *subscription) As(i any) bool { return awsmq.As(s.c, i) }

// Close implements driver.Common. It waits (up to 5 s, then cancels them)
// for receive requests that their callers abandoned, so that messages
// they return are not hidden for a visibility timeout, and hands back
// every unsettled delivery with visibility 0.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.polls.Wait(); close(done) }()
	t := time.NewTimer(closeGrace)
	select {
	case <-done:
	case <-t.C:
		s.stopPoll()
		<-done
	}
	t.Stop()
	s.stopPoll()

	now := time.Now()
	s.mu.Lock()
	var rs []*receipt
	for r := range s.out {
		if r.live(now) {
			rs = append(rs, r)
		}
	}
	s.out, s.stash, s.orphans = nil, nil, nil
	s.mu.Unlock()
	var err error
	if len(rs) > 0 {
		// Close hands back what no mq call names, so it splits them into
		// requests itself, concurrently.
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		errs := make([]error, len(rs))
		var wg sync.WaitGroup
		for lo := 0; lo < len(rs); lo += awsmq.MaxBatch {
			hi := min(lo+awsmq.MaxBatch, len(rs))
			wg.Go(func() {
				var chunk []error
				s.changeVisibility(ctx, rs[lo:hi], seq(hi-lo), hi-lo, &chunk, 0, nil)
				for i, e := range chunk {
					errs[lo+i] = e
				}
			})
		}
		wg.Wait()
		cancel()
		err = driver.BatchResult(errs)
	}
	s.conn.Close()
	return err
}
