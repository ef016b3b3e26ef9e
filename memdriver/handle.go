package memdriver

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// subHandle is the driver.Subscription of one OpenSubscription call. Many
// handles on one subscription compete for its messages.
type subHandle struct {
	s      *subscription
	emu    Emulate
	caps   driver.Capabilities
	info   driver.SubscriptionInfo
	done   chan struct{} // closed by Close
	closed atomic.Bool
}

var (
	_ driver.Subscription          = (*subHandle)(nil)
	_ driver.Seeker                = (*subHandle)(nil)
	_ driver.DeadLetterer          = (*subHandle)(nil)
	_ driver.DeadLetterTopicOpener = (*subHandle)(nil)
	_ driver.Clocked               = (*subHandle)(nil)
	_ driver.Clocked               = (*topicHandle)(nil)
)

func newSubHandle(s *subscription, o SubscriptionOptions) *subHandle {
	caps := nativeCaps(o.MaxBodySize)
	if o.Emulate&EmulateLease != 0 {
		caps.Lease = driver.None
	}
	if o.Emulate&EmulateNackDelay != 0 {
		caps.NackDelay = driver.None
	}
	if o.Emulate&EmulateDelay != 0 {
		caps.Delay = driver.None
	}
	if o.Emulate&EmulateDeadLetter != 0 {
		caps.DeadLetter = driver.None
	}
	return &subHandle{
		s:    s,
		emu:  o.Emulate,
		caps: caps,
		info: driver.SubscriptionInfo{
			Name:          s.full,
			Lease:         s.lease,
			MaxAttempts:   s.maxAttempts,
			Ordered:       s.ordered,
			HasDeadLetter: s.dlq != "",
		},
		done: make(chan struct{}),
	}
}

// lock takes the subscription's lock unless the handle is closed or the
// subscription deleted.
func (h *subHandle) lock() error {
	if h.closed.Load() {
		return errSubClosed
	}
	s := h.s
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return notFound("subscription " + s.full + " was deleted")
	}
	return nil
}

// ReceiveBatch implements driver.Subscription. It blocks, without polling,
// until a message is available, ctx is done or the handle is closed.
func (h *subHandle) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(dst) == 0 {
		if h.closed.Load() {
			return 0, errSubClosed
		}
		return 0, nil
	}
	s := h.s
	var w *waiter
	for {
		err := h.lock()
		if err == nil {
			at := s.instant()
			s.advance(&at)
			if w != nil {
				s.dropWaiter(w)
				w = nil
			}
			if err = ctx.Err(); err != nil {
				// Pass on a wake-up this call may have consumed.
				if s.ready.len() > 0 {
					s.wakeOne()
				}
				s.unlock()
				return 0, err
			}
			n := s.take(h, &at, dst)
			if n > 0 {
				if s.ready.len() > 0 {
					s.wakeOne()
				}
				s.arm(&at)
				s.unlock()
				return n, nil
			}
			w = s.addWaiter()
			s.arm(&at)
			s.unlock()
		} else {
			if w != nil {
				s.mu.Lock()
				s.dropWaiter(w)
				if s.ready.len() > 0 {
					s.wakeOne()
				}
				s.unlock()
			}
			return 0, err
		}
		select {
		case <-w.ch:
		case <-ctx.Done():
		case <-h.done:
		}
	}
}

type settleOp uint8

const (
	opAck settleOp = iota
	opNack
	opExtend
)

// settle applies op to each valid AckID and reports the others as expired.
func (h *subHandle) settle(ids []driver.AckID, op settleOp, d time.Duration) error {
	if err := h.lock(); err != nil {
		return err
	}
	s := h.s
	at := s.instant()
	var errs []error
	for i, id := range ids {
		e := s.lookup(id)
		if e == nil {
			if errs == nil {
				errs = make([]error, len(ids))
			}
			errs[i] = driver.ErrLeaseExpired()
			continue
		}
		switch op {
		case opAck:
			s.ack(e, &at)
		case opNack:
			s.leased.remove(e)
			s.fail(e, &at, d, reasonNack)
		case opExtend:
			s.leased.reschedule(e, at.now().Add(d))
		}
	}
	s.arm(&at)
	s.unlock()
	return driver.BatchResult(errs)
}

// Ack implements driver.Subscription.
func (h *subHandle) Ack(ctx context.Context, ids []driver.AckID) error {
	return h.settle(ids, opAck, 0)
}

// Nack implements driver.Subscription.
func (h *subHandle) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if delay > 0 && h.emu&EmulateNackDelay != 0 {
		return errNackDelayEmul
	}
	return h.settle(ids, opNack, max(delay, 0))
}

// Extend implements driver.Extender. On a handle that emulates the
// lease it does nothing.
func (h *subHandle) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	if h.emu&EmulateLease != 0 {
		if h.closed.Load() {
			return errSubClosed
		}
		return nil
	}
	return h.settle(ids, opExtend, lease)
}

// DeadLetter implements driver.DeadLetterer.
func (h *subHandle) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	if h.emu&EmulateDeadLetter != 0 {
		return errDeadLetterEmu
	}
	if h.s.dlq == "" {
		return driver.NewError(driver.FailedPrecondition, "memdriver: subscription "+h.s.full+
			" has no dead-letter topic (set dead_letter or max_attempts)")
	}
	if err := h.lock(); err != nil {
		return err
	}
	s := h.s
	at := s.instant()
	var errs []error
	for i, it := range items {
		e := s.lookup(it.AckID)
		if e == nil {
			if errs == nil {
				errs = make([]error, len(items))
			}
			errs[i] = driver.ErrLeaseExpired()
			continue
		}
		reason := it.Reason
		if reason == "" {
			reason = "dead-lettered on request"
		}
		s.leased.remove(e)
		s.deadLetter(e, &at, reason)
	}
	s.arm(&at)
	s.unlock()
	return driver.BatchResult(errs)
}

// OpenDeadLetterTopic implements driver.DeadLetterTopicOpener: it returns
// a handle on the subscription's dead-letter topic.
func (h *subHandle) OpenDeadLetterTopic(ctx context.Context) (driver.Topic, error) {
	if h.closed.Load() {
		return nil, errSubClosed
	}
	if h.s.dlq == "" {
		return nil, driver.NewError(driver.FailedPrecondition, "memdriver: subscription "+h.s.full+" has no dead-letter topic")
	}
	e := h.s.eng
	e.mu.Lock()
	t := e.deadLetterTopicLocked(h.s.dlq)
	e.mu.Unlock()
	return newTopicHandle(t, 0, h.caps.MaxBodySize), nil
}

// Seek implements driver.Seeker. It needs a retention.
func (h *subHandle) Seek(ctx context.Context, t time.Time) error {
	if h.s.retention <= 0 {
		return driver.NewError(driver.FailedPrecondition, "memdriver: Seek on subscription "+h.s.full+
			" needs a retention (set retention, e.g. retention=1h)")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.lock(); err != nil {
		return err
	}
	at := h.s.instant()
	h.s.advance(&at)
	h.s.seek(t, &at)
	h.s.arm(&at)
	h.s.unlock()
	return nil
}

// Info implements driver.Subscription.
func (h *subHandle) Info() driver.SubscriptionInfo { return h.info }

// Capabilities implements driver.Subscription.
func (h *subHandle) Capabilities() driver.Capabilities { return h.caps }

// Clock returns the engine's clock (driver.Clocked), so that mq measures
// its own time over the handle with it.
func (h *subHandle) Clock() clock.Clock { return h.s.eng.clk }

// As exposes the *Engine through a **Engine.
func (h *subHandle) As(i any) bool { return asEngine(h.s.eng, i) }

// ErrorAs reports false: memdriver has no native errors.
func (h *subHandle) ErrorAs(error, any) bool { return false }

// ErrorCode implements driver.Common.
func (h *subHandle) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close hands the deliveries this handle leased and did not settle back to
// the subscription at once (the attempt counts), and makes blocked
// ReceiveBatch calls return. Later calls fail with code Closed.
func (h *subHandle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return errSubClosed
	}
	close(h.done)
	s := h.s
	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return nil
	}
	at := s.instant()
	s.advance(&at)
	mine := s.leased.appendOwned(nil, h)
	slices.SortFunc(mine, func(a, b *entry) int { return cmpSeq(a.seq, b.seq) })
	for _, e := range mine {
		s.leased.remove(e)
		s.fail(e, &at, 0, reasonClosed)
	}
	s.arm(&at)
	s.unlock()
	return nil
}
