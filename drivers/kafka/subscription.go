package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/internal/fifo"
	"github.com/portmq/portmq/internal/heapq"
	"github.com/portmq/portmq/internal/notify"
	"github.com/portmq/portmq/mq/driver"
)

// subscription is a driver.Subscription on one topic and consumer or
// share group. Fetched records become entries; entries ready for delivery
// wait in a FIFO for ReceiveBatch; entries not yet due wait in a heap run
// by one scheduler goroutine. Everything is guarded by mu. The jobs have
// files of their own: receive.go hands entries out, state.go moves them
// between states, settle.go settles them (copies through package
// redeliver), flow.go pauses fetching, schedule.go runs the due heap and
// idle.go leaves the groups of an idle handle.
type subscription struct {
	topic string
	group string
	o     resolved
	base  *kgo.Client // sends retry and dead-letter copies; admin requests
	own   bool
	adm   *kadm.Client
	caps  driver.Capabilities
	info  driver.SubscriptionInfo

	ctx     context.Context // ends when Close starts
	cancel  context.CancelFunc
	copyCtx context.Context // ends when Close gives up on copies
	stopCp  context.CancelFunc
	wg      sync.WaitGroup // scheduler, share loop, teardowns
	kick    notify.Kick    // wakes the scheduler

	mu         sync.Mutex
	ready      fifo.Queue[*entry]
	wake       notify.Broadcast // receivers waiting for entries
	space      notify.Broadcast // fetch loops waiting for room in the ready queue
	receivers  int              // ReceiveBatch calls in progress
	lastActive int64            // Unix ns of the last receive or settle
	idleAt     int64            // Unix ns when to check for idleness; 0: off
	closed     bool
	fatal      error
	due        heapq.Heap[*entry]
	groups     []*groupSource
	share      *shareSource
	dlqReady   bool
	ids        idList // scratch for message IDs
}

// OpenSubscription returns a driver subscription of topic for the
// consumer group (or share group) subscription, for mq.NewSubscription.
// cl is used to send retry and dead-letter copies and for admin requests;
// the consumer clients the subscription creates start from cl.Opts() (so
// cl's brokers, TLS and SASL apply) with portmq's group options and
// opts.ClientOpts added. The topic must exist; the retry topic is created
// if absent. Closing the subscription does not close cl.
func OpenSubscription(ctx context.Context, cl *kgo.Client, topic, subscription string, opts *SubscriptionOptions) (driver.Subscription, error) {
	if cl == nil {
		return nil, invalid("nil client")
	}
	return openSubscription(ctx, cl, false, topic, subscription, opts)
}

func openSubscription(ctx context.Context, cl *kgo.Client, own bool, topic, sub string, opts *SubscriptionOptions) (*subscription, error) {
	o, err := resolveSubscription(topic, sub, opts)
	if err != nil {
		return nil, err
	}
	s := &subscription{
		topic: topic, group: sub, o: o, base: cl, own: own, adm: kadm.NewClient(cl),
		kick: notify.NewKick(), due: newDueHeap(),
	}
	maxMsg, err := topicMaxMessageBytes(ctx, s.adm, topic)
	if err != nil {
		return nil, err
	}
	if err := s.provision(ctx); err != nil {
		return nil, err
	}
	s.caps = capabilities(o.Mode, maxMsg-headroom)
	s.info = driver.SubscriptionInfo{Name: o.sourceName, Lease: o.Lease, MaxAttempts: o.MaxAttempts, Ordered: o.Ordered, HasDeadLetter: true}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.copyCtx, s.stopCp = context.WithCancel(context.Background())
	switch {
	case o.Mode == ShareMode:
		s.share = newShareSource(s)
		s.groups = []*groupSource{{s: s, id: sub + ".retry", topics: []string{o.RetryTopic}}}
	case o.Ordered:
		s.groups = []*groupSource{{s: s, id: sub, topics: []string{topic}}}
	default:
		s.groups = []*groupSource{{s: s, id: sub, topics: []string{topic, o.RetryTopic}}}
	}
	s.wg.Go(s.schedule)
	if s.share != nil {
		s.wg.Go(s.share.loop)
	}
	return s, nil
}

// capabilities declares what each mode does: the driver keeps no lease
// (mq does), and emulates delays, attempts, dead-lettering and ordering
// itself; share groups count attempts natively and cannot order or seek.
func capabilities(mode Mode, maxBody int) driver.Capabilities {
	c := driver.Capabilities{
		Lease:       driver.None,
		NackDelay:   driver.Driver,
		Attempts:    driver.Driver,
		DeadLetter:  driver.Driver,
		Dedup:       driver.None,
		Ordering:    driver.Driver,
		Delay:       driver.Driver,
		Seek:        driver.Native,
		MaxBodySize: max(maxBody, 1),
		Granularity: time.Millisecond,
	}
	if mode == ShareMode {
		c.Attempts = driver.Native
		c.Ordering = driver.None
		c.Seek = driver.None
	}
	return c
}

func (s *subscription) Info() driver.SubscriptionInfo     { return s.info }
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// Close leaves the groups after committing what was settled, releases
// share records not settled, and stops every goroutine the handle
// started.
func (s *subscription) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.wakeAll()
	s.space.Fire()
	var ms []*member
	for _, g := range s.groups {
		if g.m != nil {
			ms = append(ms, g.m)
			g.m.closing = true
			g.m.settled.Notify()
			g.m = nil
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait() // scheduler, share loop, idle teardowns
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() { m.g.teardown(m) })
	}
	if s.share != nil {
		wg.Go(s.share.close)
	}
	wg.Wait()
	s.stopCp()
	if s.own {
		s.base.Close()
	}
	return nil
}

// As converts to **kgo.Client (the client that sends copies and admin
// requests) and **kadm.Client.
func (s *subscription) As(i any) bool {
	switch p := i.(type) {
	case **kgo.Client:
		*p = s.base
		return true
	case **kadm.Client:
		*p = s.adm
		return true
	}
	return false
}

func (s *subscription) ErrorAs(err error, i any) bool        { return driver.ErrorAs(err, i) }
func (s *subscription) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }
