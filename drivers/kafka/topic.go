package kafka

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
)

// headroom is what MaxBodySize leaves of a record's size for the key, 32
// attributes of the largest size mq allows, and portmq's headers.
const headroom = 140000

// topic is a driver.Topic: an idempotent producer with acks=all.
type topic struct {
	cl     *kgo.Client
	own    bool
	name   string
	caps   driver.Capabilities
	closed atomic.Bool
}

// OpenTopic returns a driver topic that sends to name through cl, for
// mq.NewProducer. cl must produce with acks=all (kgo's default,
// kgo.RequiredAcks(kgo.AllISRAcks())); kgo's idempotent producer (also
// its default) keeps retries from duplicating. The topic must exist.
// Closing the topic does not close cl.
func OpenTopic(ctx context.Context, cl *kgo.Client, name string, opts *TopicOptions) (driver.Topic, error) {
	if cl == nil {
		return nil, invalid("nil client")
	}
	if err := checkName("topic", name); err != nil {
		return nil, err
	}
	return openTopic(ctx, cl, false, name, opts)
}

func openTopic(ctx context.Context, cl *kgo.Client, own bool, name string, opts *TopicOptions) (*topic, error) {
	if acks, ok := cl.OptValue(kgo.RequiredAcks).(kgo.Acks); ok && acks != kgo.AllISRAcks() {
		return nil, invalid("the client must produce with kgo.RequiredAcks(kgo.AllISRAcks()) so that Send returns only for durable messages")
	}
	var o TopicOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxBodySize < 0 {
		return nil, invalid("negative MaxBodySize")
	}
	maxMsg, err := topicMaxMessageBytes(ctx, kadm.NewClient(cl), name)
	if err != nil {
		return nil, err
	}
	if o.MaxBodySize == 0 {
		limit := maxMsg
		if b, ok := cl.OptValue(kgo.ProducerBatchMaxBytes).(int32); ok && int(b) < limit {
			limit = int(b)
		}
		o.MaxBodySize = max(limit-headroom, 1)
	}
	return &topic{cl: cl, own: own, name: name, caps: capabilities(GroupMode, o.MaxBodySize)}, nil
}

// topicMaxMessageBytes checks that the topic exists and returns its
// max.message.bytes.
func topicMaxMessageBytes(ctx context.Context, adm *kadm.Client, name string) (int, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return 0, wrap("describe topic "+name, err)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, wrap("topic "+name, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" && c.Value != nil {
			if n, err := strconv.Atoi(*c.Value); err == nil && n > 0 {
				return n, nil
			}
		}
	}
	return 1048588, nil // Kafka's default
}

// SendBatch produces every message and waits until each is acknowledged
// by all in-sync replicas. Records are handed to the client together, so
// they share produce requests.
func (t *topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.closed.Load() {
		return errClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	recs := getRecords(len(msgs))
	now := time.Now()
	for i := range msgs {
		toRecord(&recs[i], &msgs[i], t.name, now)
	}
	b := &sendBatch{recs: recs, finished: make(chan struct{})}
	b.left.Store(int32(len(recs)))
	done := b.done // one func value for the batch, not one per record
	for i := range recs {
		t.cl.Produce(ctx, &recs[i], done)
	}
	if !b.wait(ctx) {
		// The client keeps retrying records already in flight (a
		// connection cut) past ctx; the caller must not wait for that.
		// Their outcome is unknown: they may still be written.
		return wrap("send to "+t.name, ctx.Err())
	}
	defer putRecords(recs)
	var errs []error
	ids := idList{buf: make([]byte, 0, 12*len(recs)), ends: make([]int, 0, len(recs))}
	for i := range recs {
		if b.errs != nil && b.errs[i] != nil {
			errs = driver.SetItemError(errs, len(recs), i, wrap("send to "+t.name, b.errs[i]))
			continue
		}
		ids.add(recs[i].Partition, recs[i].Offset)
	}
	k := 0
	for i := range recs {
		if errs == nil || errs[i] == nil {
			msgs[i].ID = ids.id(k)
			k++
		}
	}
	return driver.BatchResult(errs)
}

// recordPool recycles the records of SendBatch calls: the client is done
// with a record once its promise ran.
var recordPool sync.Pool // *[]kgo.Record

func getRecords(n int) []kgo.Record {
	if p, ok := recordPool.Get().(*[]kgo.Record); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]kgo.Record, n)
}

func putRecords(recs []kgo.Record) {
	clear(recs)
	recordPool.Put(&recs)
}

// sendBatch collects the results of one SendBatch; one callback serves
// every record of the batch.
type sendBatch struct {
	left     atomic.Int32 // promises still to run
	state    atomic.Int32 // batchWaiting, batchFinished or batchAbandoned
	finished chan struct{}
	recs     []kgo.Record
	mu       sync.Mutex
	errs     []error
}

const (
	batchWaiting int32 = iota
	batchFinished
	batchAbandoned // SendBatch returned at ctx's end; the last promise recycles the records
)

// wait waits until every promise ran (true) or ctx ended first (false;
// the records then belong to the client until its promises ran).
func (b *sendBatch) wait(ctx context.Context) bool {
	select {
	case <-b.finished:
		return true
	case <-ctx.Done():
		return !b.state.CompareAndSwap(batchWaiting, batchAbandoned)
	}
}

func (b *sendBatch) done(r *kgo.Record, err error) {
	if err != nil {
		b.mu.Lock()
		if b.errs == nil {
			b.errs = make([]error, len(b.recs))
		}
		for i := range b.recs {
			if &b.recs[i] == r {
				b.errs[i] = err
			}
		}
		b.mu.Unlock()
	}
	if b.left.Add(-1) != 0 {
		return
	}
	if b.state.CompareAndSwap(batchWaiting, batchFinished) {
		close(b.finished)
	} else {
		putRecords(b.recs)
	}
}

func (t *topic) Capabilities() driver.Capabilities { return t.caps }

// As converts to **kgo.Client.
func (t *topic) As(i any) bool {
	if p, ok := i.(**kgo.Client); ok {
		*p = t.cl
		return true
	}
	return false
}

func (t *topic) ErrorAs(err error, i any) bool        { return driver.ErrorAs(err, i) }
func (t *topic) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close flushes nothing (SendBatch waits for its records) and closes the
// client if the topic owns it.
func (t *topic) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if t.own {
		t.cl.Close()
	}
	return nil
}
