package mq

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// Subscription receives deliveries from one subscription. It is safe for
// concurrent use: concurrent Receive calls compete for messages. Open one
// with OpenSubscription or NewSubscription and Shutdown it when done.
type Subscription struct {
	d        driver.Subscription // native, or wrapped by splitSub to split ID calls by MaxBatch
	native   driver.Subscription // the driver's own, for its optional interfaces
	ext      driver.Extender     // d, where its lease is native; nil otherwise
	caps     driver.Capabilities
	info     driver.SubscriptionInfo
	prefetch int
	clk      clock.Clock

	gate        gate
	recvCtx     context.Context // canceled when Shutdown starts
	stopRecv    context.CancelFunc
	opCtx       context.Context // canceled when Shutdown gives up
	stopOps     context.CancelFunc
	acker       acker
	emuOnce     sync.Once
	emu         *emulator
	dlqMu       sync.Mutex
	dlq         driver.Topic
	emulateRecv bool                 // deliveries may need holding (emulated delay)
	obs         SubscriptionObserver // nil: not observed

	mu    sync.Mutex
	buf   []driver.Message // buf[head:] fetched, not yet handed out
	head  int
	spare []driver.Message // an empty buffer for the next fetch; nil while one runs

	// Fetches in the driver and the context that wakes them (fetch).
	fetching     int
	wake         context.Context
	wakeFetchers context.CancelFunc

	// The buffer keeper (keeper.go); guarded by mu.
	keepBuffer  bool        // the backend has leases that run in the buffer
	keeper      clock.Timer // nil until first armed
	keeperArmed bool
	keeperIdle  int  // visits in a row that found nothing received
	popped      bool // a Receive took from the buffer since the keeper's visit
}

// SubscriptionOption configures a Subscription.
type SubscriptionOption func(*subscriptionConfig) error

type subscriptionConfig struct {
	prefetch     int
	obs          Observer
	obsSet       bool
	system, dest string
	clk, muxClk  clock.Clock
}

// WithSubscriptionClock makes the Subscription, and the Consumers over it,
// measure every lease, delay, hold and backoff portmq keeps with c
// (default: the URLMux's clock if it has one, else the driver's clock
// where the driver exposes one (driver.Clocked, as memdriver does), else
// clock.Real). Deadlines of the contexts passed in stay on real time.
func WithSubscriptionClock(c clock.Clock) SubscriptionOption {
	return func(cfg *subscriptionConfig) error {
		if c == nil {
			return newError(InvalidArgument, "mq.WithSubscriptionClock", "nil clock", nil)
		}
		cfg.clk = c
		return nil
	}
}

// withMuxSubscriptionClock passes the URLMux's clock, which
// WithSubscriptionClock overrides.
func withMuxSubscriptionClock(c clock.Clock) SubscriptionOption {
	return func(cfg *subscriptionConfig) error {
		cfg.muxClk = c
		return nil
	}
}

// pickClock returns the first clock set of: the handle's option, the
// mux's, the driver handle's own (driver.Clocked), clock.Real.
func pickClock(opt, mux clock.Clock, handle any) clock.Clock {
	switch {
	case opt != nil:
		return opt
	case mux != nil:
		return mux
	}
	if c, ok := handle.(driver.Clocked); ok {
		if clk := c.Clock(); clk != nil {
			return clk
		}
	}
	return clock.Real{}
}

// WithSubscriptionObserver makes o observe the Subscription and the
// Consumers over it (default: the one SetDefaultObserver installed, if
// any); nil turns observing off.
func WithSubscriptionObserver(o Observer) SubscriptionOption {
	return func(c *subscriptionConfig) error {
		c.obs, c.obsSet = o, true
		return nil
	}
}

// withSubscriptionNames tells the observer the URL's scheme and topic.
func withSubscriptionNames(system, dest string) SubscriptionOption {
	return func(c *subscriptionConfig) error {
		c.system, c.dest = system, dest
		return nil
	}
}

// WithPrefetch sets how many messages one driver call may fetch ahead of
// Receive calls (default 64). On a backend with leases, the leases of
// fetched messages waiting in the buffer are kept: extended together when
// half of the oldest is gone, so a delivery is handed out with at least
// about half a lease left; and handed back to the backend for other
// consumers when no Receive took from the buffer for two leases. A message
// whose lease ended anyway is dropped (the backend redelivers it).
func WithPrefetch(n int) SubscriptionOption {
	return func(c *subscriptionConfig) error {
		if n < 1 || n > 10000 {
			return newError(InvalidArgument, "mq.WithPrefetch", "prefetch must be 1 to 10000", nil)
		}
		c.prefetch = n
		return nil
	}
}

// NewSubscription wraps a driver subscription. Most programs use
// OpenSubscription.
func NewSubscription(ds driver.Subscription, opts ...SubscriptionOption) (*Subscription, error) {
	if ds == nil {
		return nil, newError(InvalidArgument, "mq.NewSubscription", "nil driver subscription", nil)
	}
	cfg := subscriptionConfig{prefetch: 64}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	s := &Subscription{d: ds, native: ds, caps: ds.Capabilities(), info: ds.Info(), prefetch: cfg.prefetch, clk: pickClock(cfg.clk, cfg.muxClk, ds)}
	if s.caps.Lease.Has() {
		ext, ok := ds.(driver.Extender)
		if !ok {
			return nil, newError(InvalidArgument, "mq.NewSubscription", "the driver declares a native lease (Capabilities.Lease) but does not implement driver.Extender", nil)
		}
		s.ext = ext
	}
	if s.caps.MaxBatch > 0 {
		s.d = splitSub{ds, s.caps.MaxBatch}
		if s.ext != nil {
			s.ext = splitExt{s.ext, s.caps.MaxBatch}
		}
	}
	if s.caps.MaxBatch > 0 && s.prefetch > s.caps.MaxBatch {
		s.prefetch = s.caps.MaxBatch
	}
	if s.info.Lease <= 0 {
		s.info.Lease = 30 * time.Second
	}
	// A held delivery may become due while a Receive waits in the driver
	// when mq emulates delays: always without native Delay, and beyond
	// MaxDelay with it.
	s.emulateRecv = !s.caps.Delay.Has() || s.caps.MaxDelay > 0
	s.keepBuffer = s.caps.Lease.Has()
	s.recvCtx, s.stopRecv = context.WithCancel(context.Background())
	s.wake, s.wakeFetchers = context.WithCancel(s.recvCtx)
	s.opCtx, s.stopOps = context.WithCancel(context.Background())
	if !cfg.obsSet {
		cfg.obs = defaultObs()
	}
	if cfg.obs != nil {
		info := HandleInfo{System: cfg.system, Destination: cfg.dest, Subscription: s.info.Name, Capabilities: s.caps, MaxAttempts: s.info.MaxAttempts}
		if _, ok := ds.(driver.Backlogger); ok {
			info.Backlog = s.Backlog
		}
		s.obs = cfg.obs.ObserveSubscription(info)
	}
	return s, nil
}

// now reads the Subscription's clock.
func (s *Subscription) now() time.Time { return s.clk.Now() }

// Backlog reports how many messages wait in the subscription, as the
// backend counts them (SQS ApproximateNumberOfMessages, a RabbitMQ
// queue's depth, a Kafka group's lag, ...). It returns an error matching
// ErrUnsupported where the backend cannot tell (Pub/Sub's API has no
// such count).
func (s *Subscription) Backlog(ctx context.Context) (int64, error) {
	const op = "mq.Subscription.Backlog"
	b, ok := s.native.(driver.Backlogger)
	if !ok {
		return 0, newError(Unsupported, op, "the backend cannot report a backlog", nil)
	}
	if !s.gate.enter() {
		return 0, s.closedError(op)
	}
	defer s.gate.leave()
	n, err := b.Backlog(ctx)
	return n, wrapDriver(s.d, op, err)
}

// Capabilities reports what the backend does natively.
func (s *Subscription) Capabilities() Capabilities { return s.caps }

// Info reports the subscription's settings.
func (s *Subscription) Info() SubscriptionInfo { return s.info }

// Receive returns the next delivery, blocking until one is available or
// ctx ends. It never polls busily.
func (s *Subscription) Receive(ctx context.Context) (*Delivery, error) {
	const op = "mq.Subscription.Receive"
	if !s.gate.enter() {
		return nil, s.closedError(op)
	}
	defer s.gate.leave()
	if s.obs != nil {
		return s.observedReceive(ctx, op)
	}
	for try := 0; ; {
		if d := s.pop(); d != nil {
			return d, nil
		}
		if err := s.fetchOrWait(ctx, op, s.prefetch, &try); err != nil {
			return nil, err
		}
	}
}

func (s *Subscription) observedReceive(ctx context.Context, op string) (*Delivery, error) {
	start := s.now()
	for try := 0; ; {
		if d := s.pop(); d != nil {
			s.obs.Received(ctx, start, DeliveryList{one: d}, nil)
			return d, nil
		}
		if err := s.fetchOrWait(ctx, op, s.prefetch, &try); err != nil {
			s.obs.Received(ctx, start, DeliveryList{}, err)
			return nil, err
		}
	}
}

// fetchOrWait fetches; when the backend is unreachable it waits out the
// outage (see reconnect.go), counting tries in *try, and returns an error
// only when ctx ends, Shutdown begins, or the error is not a connection
// loss.
func (s *Subscription) fetchOrWait(ctx context.Context, op string, n int, try *int) error {
	err := s.fetch(ctx, op, n)
	if err == nil || !isOutage(ctx, err) {
		*try = 0
		return err
	}
	*try++
	switch why := pauseRetry(ctx, s.clk, s.recvCtx.Done(), *try); {
	case why == nil:
		return nil
	case s.recvCtx.Err() != nil:
		return s.closedError(op)
	default:
		return outageError(op, err, why)
	}
}

// ReceiveBatch returns between 1 and n deliveries, blocking until at
// least one is available or ctx ends. Deliveries of small messages
// returned together may share one allocation: a Delivery kept long after
// it is settled keeps up to 31 others, and at most 32 KiB of their
// bodies, from being collected.
func (s *Subscription) ReceiveBatch(ctx context.Context, n int) ([]*Delivery, error) {
	const op = "mq.Subscription.ReceiveBatch"
	if n < 1 {
		return nil, newError(InvalidArgument, op, "n must be at least 1", nil)
	}
	if !s.gate.enter() {
		return nil, s.closedError(op)
	}
	defer s.gate.leave()
	// Room for what one fetch brings, so that appending does not grow
	// the slice batch by batch.
	out := make([]*Delivery, 0, min(n, max(s.prefetch, popChunk)))
	var ms [popChunk]driver.Message
	var start time.Time
	if s.obs != nil {
		start = s.now()
	}
	for try := 0; ; {
		out = s.popBatch(out, n, ms[:])
		if len(out) > 0 {
			if s.obs != nil {
				s.obs.Received(ctx, start, DeliveryList{many: out}, nil)
			}
			return out, nil
		}
		if err := s.fetchOrWait(ctx, op, max(n, s.prefetch), &try); err != nil {
			if s.obs != nil {
				s.obs.Received(ctx, start, DeliveryList{}, err)
			}
			return nil, err
		}
	}
}

// pop hands out the next buffered message that is still deliverable.
func (s *Subscription) pop() *Delivery {
	var one [1]*Delivery
	var m [1]driver.Message
	if out := s.popBatch(one[:0], 1, m[:]); len(out) > 0 {
		return out[0]
	}
	return nil
}

// popChunk is how many buffered messages popBatch turns into deliveries
// at a time: one clock reading, one lease-tracking lock and, for small
// messages, one allocation for the lot.
const popChunk = 32

// slabBodies bounds the body bytes of the deliveries that share an
// allocation: a Delivery kept after it is settled keeps the others of its
// chunk (and their bodies) from being collected, so only chunks of small
// messages share one.
const slabBodies = 32 << 10

// popBatch appends up to n-len(out) deliverable buffered messages to out,
// taking them from the buffer len(ms) at a time through ms.
func (s *Subscription) popBatch(out []*Delivery, n int, ms []driver.Message) []*Delivery {
	for len(out) < n {
		k, waited := s.take(ms[:min(n-len(out), len(ms))])
		if k == 0 {
			break
		}
		now := s.now()
		bodies := 0
		for i := range ms[:k] {
			bodies += len(ms[i].Body)
		}
		var slab []Delivery
		if bodies <= slabBodies {
			slab = make([]Delivery, k)
		}
		j := 0
		for i := range ms[:k] {
			if !s.admit(&ms[i], waited, now) {
				continue
			}
			var d []Delivery
			if slab != nil {
				d = slab[j : j+1]
			} else {
				d = make([]Delivery, 1)
			}
			if !s.fill(&d[0], &ms[i]) {
				continue
			}
			out = append(out, &d[0])
			j++
			if slab == nil {
				s.trackLeases(d, now)
			}
		}
		clear(ms[:k])
		if slab != nil {
			s.trackLeases(slab[:j], now)
		}
	}
	return out
}

// take moves up to len(dst) buffered messages to dst. waited reports
// whether they waited behind others in the buffer: a lone message was
// fetched by this very call, and only messages that waited can have run
// out of lease.
func (s *Subscription) take(dst []driver.Message) (k int, waited bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k = copy(dst, s.buf[s.head:])
	if k == 0 {
		return 0, false
	}
	waited = len(s.buf) > 1
	clear(s.buf[s.head : s.head+k])
	s.head += k
	s.popped = true
	if s.head == len(s.buf) {
		s.buf, s.head = s.buf[:0], 0
	}
	return k, waited
}

// admit reports whether a fetched message is to be delivered now: not
// when its lease already ended in the buffer (the backend redelivers
// it), nor when mq holds it for an emulated delay.
func (s *Subscription) admit(m *driver.Message, waited bool, now time.Time) bool {
	if waited && !m.Deadline.IsZero() && !now.Before(m.Deadline) {
		return false
	}
	if len(m.Attributes) > 0 {
		if v, ok := m.Attributes[driver.AttrNotBefore]; ok {
			m.Attributes = withoutAttr(m.Attributes, driver.AttrNotBefore)
			if due, err := time.Parse(time.RFC3339Nano, v); err == nil && now.Before(due) {
				s.emulator().holdDelivery(*m, due)
				return false
			}
		}
	}
	return true
}

// fill makes d the delivery of m, or dead-letters m and returns false
// when mq emulates dead-lettering and m has used up its attempts.
func (s *Subscription) fill(d *Delivery, m *driver.Message) bool {
	*d = Delivery{
		Message:     Message{Body: m.Body, Attributes: m.Attributes, Key: m.Key, DedupID: m.DedupID, ID: m.ID},
		Attempt:     m.Attempt,
		PublishedAt: m.PublishedAt,
		sub:         s,
		ackID:       m.AckID,
	}
	if m.Native != nil {
		d.as = m.Native
	}
	if d.Attempt == 0 {
		d.Attempt = 1
	}
	if !m.Deadline.IsZero() {
		d.deadline.Store(m.Deadline.UnixNano())
	}
	if !s.caps.DeadLetter.Has() && s.info.MaxAttempts > 0 && d.Attempt > s.info.MaxAttempts {
		// Lease ends and crashes counted attempts the consumer never saw
		// fail; the backend cannot dead-letter, so mq does.
		d.state.Store(stateSettled)
		d.Attempt-- // this delivery is not an attempt: MaxAttempts were made
		_ = s.deadLetter("mq.Subscription.Receive", d, "max attempts ("+strconv.Itoa(s.info.MaxAttempts)+") reached")
		*d = Delivery{} // the slot goes to the next message
		return false
	}
	return true
}

// trackLeases starts mq's leases of ds where mq keeps leases.
func (s *Subscription) trackLeases(ds []Delivery, now time.Time) {
	if len(ds) > 0 && !s.caps.Lease.Has() {
		s.emulator().trackLeases(ds, now.Add(s.info.Lease))
	}
}

// fetch receives up to n messages from the driver into the buffer.
//
// Several Receive calls may wait in the driver at once. When one of them
// brings back more than its caller takes, the others are woken (their
// driver calls end through wake, the context they share) so that they take
// from the buffer instead of waiting for new messages while a batch sits
// there.
func (s *Subscription) fetch(ctx context.Context, op string, n int) error {
	// Take the spare buffer and count this fetch in one go.
	s.mu.Lock()
	wake := s.wake
	dst := s.spare
	s.spare = nil
	s.fetching++
	s.mu.Unlock()
	fctx := ctx
	if ctx.Done() == nil && !s.emulateRecv {
		fctx = wake
	} else {
		var cancel context.CancelFunc
		fctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(wake, cancel)
		defer stop()
		if s.emulateRecv {
			unwatch := s.emulator().watch(cancel)
			defer unwatch()
			s.mu.Lock()
			ready := s.head < len(s.buf)
			if ready {
				s.fetching--
				if s.spare == nil {
					s.spare = dst
				}
			}
			s.mu.Unlock()
			if ready {
				return nil // a held delivery became due meanwhile
			}
		}
	}
	// Receive into the spare buffer; when the buffer is empty (a consumer
	// that keeps up), the two swap instead of copying.
	if cap(dst) < n {
		dst = make([]driver.Message, n)
	}
	dst = dst[:n]
	got, err := s.d.ReceiveBatch(fctx, dst)
	s.mu.Lock()
	s.fetching--
	if got > 0 && s.head == len(s.buf) {
		s.buf, dst = dst[:got], s.buf[:0] // s.buf's entries were cleared by pop
		s.head = 0
	} else if got > 0 {
		s.buf = append(s.buf, dst[:got]...)
		clear(dst[:got])
	}
	if got > 0 && s.keepBuffer && !s.keeperArmed {
		s.armKeeper(s.now())
	}
	if s.spare == nil {
		s.spare = dst[:0]
	}
	if s.fetching > 0 && len(s.buf)-s.head > 1 {
		// More than this caller takes, and others wait in the driver.
		s.wakeFetchers()
		s.wake, s.wakeFetchers = context.WithCancel(s.recvCtx)
	}
	s.mu.Unlock()
	if err == nil || got > 0 {
		return nil
	}
	switch {
	case s.recvCtx.Err() != nil:
		return s.closedError(op)
	case ctx.Err() != nil:
		return newError(ctxCode(ctx.Err(), Canceled), op, "", ctx.Err())
	case fctx.Err() != nil:
		return nil // woken: a held delivery is due, or another fetch buffered messages
	}
	return wrapDriver(s.d, op, err)
}

// Seek makes messages published at or after t available again, where the
// backend retains them; otherwise it returns an error matching
// ErrUnsupported.
func (s *Subscription) Seek(ctx context.Context, t time.Time) error {
	const op = "mq.Subscription.Seek"
	sk, ok := s.native.(driver.Seeker)
	if !ok || !s.caps.Seek.Has() {
		return newError(Unsupported, op, "the backend cannot replay", nil)
	}
	if !s.gate.enter() {
		return s.closedError(op)
	}
	defer s.gate.leave()
	return wrapDriver(s.d, op, sk.Seek(ctx, t))
}

// As exposes the driver's native client (see the driver's # As section).
func (s *Subscription) As(i any) bool { return s.d.As(i) }

// ErrorAs converts an error from this subscription to a native error type.
func (s *Subscription) ErrorAs(err error, i any) bool { return errorAs(s.d, err, i) }

// Shutdown stops receiving (blocked Receive calls return an error matching
// ErrClosed), returns every delivery mq holds but has not handed out to the
// backend at once, and releases the driver, which hands back unsettled
// deliveries. Deliveries settled after Shutdown return ErrClosed. It waits
// for operations in progress until ctx ends. Later calls return nil.
func (s *Subscription) Shutdown(ctx context.Context) error {
	const op = "mq.Subscription.Shutdown"
	if !s.gate.close() {
		return nil
	}
	s.stopRecv()
	werr := s.gate.wait(ctx)
	if werr != nil {
		// ctx ended first: cancel what is still in progress, and wait for
		// it to return, since the driver may be closed only after every
		// other call on it returned (drivers must honour ctx).
		s.stopOps()
		_ = s.gate.wait(context.Background())
	}

	var ids []driver.AckID
	s.mu.Lock()
	if s.keeper != nil {
		s.keeper.Stop()
	}
	for _, m := range s.buf[s.head:] {
		ids = append(ids, m.AckID)
	}
	s.buf, s.head = nil, 0
	s.mu.Unlock()
	if s.emu != nil {
		ids = append(ids, s.emu.stop()...)
	}
	var nerr error
	if len(ids) > 0 {
		// Hand them back now even when ctx has ended: otherwise they come
		// back only at the end of their leases.
		hctx, cancel := handBackContext(ctx, s.info.Lease)
		nerr = s.d.Nack(hctx, ids, 0)
		cancel()
	}
	s.dlqMu.Lock()
	if s.dlq != nil {
		_ = s.dlq.Close()
	}
	s.dlqMu.Unlock()
	cerr := s.d.Close()
	s.stopOps()
	if s.obs != nil {
		closeObserver(s.obs)
	}
	switch {
	case werr != nil:
		return newError(ctxCode(werr, DeadlineExceeded), op, "operations still in progress", werr)
	case nerr != nil:
		return wrapDriver(s.d, op, nerr)
	}
	return wrapDriver(s.d, op, cerr)
}

// handBackContext bounds the call that hands held deliveries back at
// Shutdown: ctx's deadline while it has one left, else (ctx ended) a
// short budget of its own, so that the deliveries come back at once
// rather than when their leases end.
func handBackContext(ctx context.Context, lease time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), min(max(lease, time.Second), 10*time.Second))
}

func (s *Subscription) closedError(op string) *Error {
	return newError(Closed, op, "subscription is shut down", nil)
}

func (s *Subscription) untrackLease(d *Delivery) {
	if s.emu != nil && !s.caps.Lease.Has() {
		s.emu.untrackLease(d)
	}
}

func withoutAttr(attrs map[string]string, key string) map[string]string {
	if len(attrs) == 1 {
		return nil
	}
	out := make(map[string]string, len(attrs)-1)
	for k, v := range attrs {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// extendMany extends the leases of ds in one driver call where it can.
func (s *Subscription) extendMany(ds []*Delivery, lease time.Duration) {
	if !s.gate.enter() {
		return
	}
	defer s.gate.leave()
	if s.caps.Lease.Has() && s.caps.MaxLease > 0 && lease > s.caps.MaxLease {
		lease = s.caps.MaxLease
	}
	until := s.now().Add(lease)
	if !s.caps.Lease.Has() {
		for _, d := range ds {
			s.emulator().extendLease(d, until)
		}
		return
	}
	ids := make([]driver.AckID, 0, len(ds))
	live := ds[:0:0]
	for _, d := range ds {
		if d.state.Load() == stateOutstanding {
			ids = append(ids, d.ackID)
			live = append(live, d)
		}
	}
	if len(ids) == 0 {
		return
	}
	err := s.ext.Extend(s.opCtx, ids, lease)
	for i, d := range live {
		if driver.ItemError(err, i) == nil {
			d.deadline.Store(until.UnixNano())
		}
	}
}

// splitSub is a driver subscription with a MaxBatch: mq passes its Ack
// and Nack at most max IDs per call (driver.Capabilities.MaxBatch).
type splitSub struct {
	driver.Subscription
	max int
}

func (b splitSub) Ack(ctx context.Context, ids []driver.AckID) error {
	if len(ids) <= b.max {
		return b.Subscription.Ack(ctx, ids) // no closure to allocate
	}
	return splitCall(ids, b.max, func(ids []driver.AckID) error { return b.Subscription.Ack(ctx, ids) })
}

func (b splitSub) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if len(ids) <= b.max {
		return b.Subscription.Nack(ctx, ids, delay)
	}
	return splitCall(ids, b.max, func(ids []driver.AckID) error { return b.Subscription.Nack(ctx, ids, delay) })
}

// splitExt is splitSub's Extend.
type splitExt struct {
	driver.Extender
	max int
}

func (b splitExt) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	if len(ids) <= b.max {
		return b.Extender.Extend(ctx, ids, lease)
	}
	return splitCall(ids, b.max, func(ids []driver.AckID) error { return b.Extender.Extend(ctx, ids, lease) })
}

// splitCall calls f on items in chunks of at most max (all at once when
// max is 0), the chunks concurrently, and returns the call's result over
// all items: each chunk's item errors (driver.ItemError) in their places
// of items, in the SPI's shape (driver.BatchResult).
func splitCall[T any](items []T, max int, f func([]T) error) error {
	if max <= 0 || len(items) <= max {
		return f(items)
	}
	chunkErrs := make([]error, (len(items)+max-1)/max)
	var wg sync.WaitGroup
	for c := range chunkErrs {
		lo := c * max
		hi := min(lo+max, len(items))
		wg.Go(func() { chunkErrs[c] = f(items[lo:hi:hi]) })
	}
	wg.Wait()
	var errs []error
	for c, err := range chunkErrs {
		if err == nil {
			continue
		}
		lo := c * max
		for i := lo; i < min(lo+max, len(items)); i++ {
			errs = driver.SetItemError(errs, len(items), i, driver.ItemError(err, i-lo))
		}
	}
	return driver.BatchResult(errs)
}
