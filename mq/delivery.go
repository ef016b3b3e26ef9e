package mq

import (
	"reflect"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// Delivery is one delivery of a message to this process. Settle it exactly
// once with Ack, Nack or DeadLetter before its lease ends; Extend pushes the
// lease. Calling a settling method twice returns an error matching
// ErrSettled; nothing panics.
type Delivery struct {
	// Message holds Body, Attributes, Key, DedupID and ID as sent (Delay is
	// zero). Dead letters also carry the attributes AttrDeadLetterReason,
	// AttrAttempts and AttrSource.
	Message
	// Attempt is the 1-based number of this delivery of the message.
	Attempt int
	// PublishedAt is when the backend accepted the message.
	PublishedAt time.Time

	sub      *Subscription
	ackID    driver.AckID
	deadline atomic.Int64 // unix nanos when the lease ends; 0 = unknown
	as       any          // driver.Message.Native
	state    atomic.Uint32
	leaseIdx int32 // guarded by sub.emu.mu (emulated lease)
}

// Metadata attributes on dead-lettered messages.
const (
	AttrDeadLetterReason = driver.AttrDeadLetterReason
	AttrAttempts         = driver.AttrAttempts
	AttrSource           = driver.AttrSource
)

const (
	stateOutstanding uint32 = iota
	stateSettled
	stateExpired
	stateAcked // settled by Ack and flushed to the driver (set under acker.mu)
)

// Deadline returns when the delivery's lease ends (zero if unknown).
func (d *Delivery) Deadline() time.Time {
	n := d.deadline.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// As exposes the driver's native message, where the driver offers one: i
// is a pointer to a variable of the native type (each driver's package
// documentation names its types), which As sets.
func (d *Delivery) As(i any) bool {
	switch as := d.as.(type) {
	case nil:
		return false
	case driver.NativeAs:
		return as.NativeAs(i)
	default:
		p := reflect.ValueOf(i)
		if p.Kind() != reflect.Pointer || p.IsNil() || !reflect.TypeOf(as).AssignableTo(p.Elem().Type()) {
			return false
		}
		p.Elem().Set(reflect.ValueOf(as))
		return true
	}
}

// begin starts a settling call: it checks d, enters the subscription's gate
// (refused after Shutdown) and marks d settled. On success the caller must
// call s.gate.leave.
func (d *Delivery) begin(op string) (*Subscription, error) {
	if d == nil || d.sub == nil {
		return nil, newError(InvalidArgument, op, "not a received delivery", nil)
	}
	s := d.sub
	if !s.gate.enter() {
		return nil, s.closedError(op)
	}
	if err := d.settle(op); err != nil {
		s.gate.leave()
		return nil, err
	}
	return s, nil
}

// settle marks the delivery settled or says why it cannot be.
func (d *Delivery) settle(op string) *Error {
	if d.state.CompareAndSwap(stateOutstanding, stateSettled) {
		return nil
	}
	if d.state.Load() == stateExpired {
		return &Error{Code: FailedPrecondition, Op: op, Msg: "lease expired; the message will be delivered again", kind: kindLeaseExpired}
	}
	return &Error{Code: FailedPrecondition, Op: op, Msg: "delivery already settled", kind: kindSettled}
}

// Ack acknowledges the delivery: the message is not delivered again. Acks
// from many goroutines are batched into few driver calls.
func (d *Delivery) Ack() error {
	if d != nil && d.sub != nil && d.sub.obs != nil {
		start := d.sub.now()
		err := d.ack()
		d.sub.obs.Settled(d, Settlement{Op: SettleAck, Err: err, Start: start})
		return err
	}
	return d.ack()
}

func (d *Delivery) ack() error {
	s, err := d.begin("mq.Delivery.Ack")
	if err != nil {
		return err
	}
	defer s.gate.leave()
	s.untrackLease(d)
	return s.acker.ack(s, d)
}

// AckBatch acks deliveries received from s in as few driver calls as the
// backend allows: one Ack call where a Receive loop would make len(ds).
// It returns nil when every ack succeeded, else a *BatchError whose Errs[i]
// is the error of ds[i] (for example ErrSettled for a delivery settled
// before, InvalidArgument for one received from another subscription);
// the others are acked.
func (s *Subscription) AckBatch(ds []*Delivery) error {
	const op = "mq.Subscription.AckBatch"
	if len(ds) == 0 {
		return nil
	}
	if !s.gate.enter() {
		return s.closedError(op)
	}
	defer s.gate.leave()
	errs := make([]error, len(ds))
	ok := make([]*Delivery, 0, len(ds))
	at := make([]int, 0, len(ds))
	for i, d := range ds {
		switch {
		case d == nil || d.sub != s:
			errs[i] = newError(InvalidArgument, op, "not a delivery of this subscription", nil)
		default:
			if err := d.settle(op); err != nil {
				errs[i] = err
				continue
			}
			s.untrackLease(d)
			ok = append(ok, d)
			at = append(at, i)
		}
	}
	if len(ok) > 0 {
		res := make([]error, len(ok))
		s.acker.ackAll(s, ok, res)
		for j, i := range at {
			errs[i] = res[j]
		}
	}
	if s.obs != nil {
		now := s.now()
		for i, d := range ds {
			if d != nil && d.sub == s {
				s.obs.Settled(d, Settlement{Op: SettleAck, Err: errs[i], Start: now})
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return &BatchError{Errs: errs}
		}
	}
	return nil
}

// Nack returns the message to the subscription for redelivery no sooner
// than delay (0: promptly), with Attempt + 1. At the subscription's max
// attempts the message is dead-lettered instead.
func (d *Delivery) Nack(delay time.Duration) error {
	if d != nil && d.sub != nil && d.sub.obs != nil {
		start := d.sub.now()
		st, err := d.nack(delay)
		st.Err, st.Start = err, start
		d.sub.obs.Settled(d, st)
		return err
	}
	_, err := d.nack(delay)
	return err
}

// nack nacks d and says how (for observers).
func (d *Delivery) nack(delay time.Duration) (Settlement, error) {
	const op = "mq.Delivery.Nack"
	st := Settlement{Op: SettleNack, Delay: delay}
	if delay < 0 {
		return st, newError(InvalidArgument, op, "negative delay "+delay.String(), nil)
	}
	s, err := d.begin(op)
	if err != nil {
		return st, err
	}
	defer s.gate.leave()
	s.untrackLease(d)
	if !s.caps.DeadLetter.Has() && s.info.MaxAttempts > 0 && d.Attempt >= s.info.MaxAttempts {
		st = Settlement{Op: SettleDeadLetter, Reason: "max attempts (" + strconv.Itoa(s.info.MaxAttempts) + ") reached", Emulated: true}
		return st, s.deadLetter(op, d, st.Reason)
	}
	if delay > 0 && (!s.caps.NackDelay.Has() || (s.caps.NackDelayLimit() > 0 && delay > s.caps.NackDelayLimit())) {
		st.Emulated = true
		return st, s.emulator().holdNack(d.ackID, d.Attempt, s.now().Add(delay))
	}
	return st, wrapDriver(s.d, op, s.d.Nack(s.opCtx, []driver.AckID{d.ackID}, delay))
}

// Extend sets the delivery's lease to end lease from now. It fails with
// ErrLeaseExpired if the lease already ended, and with InvalidArgument if
// lease is outside the backend's range.
func (d *Delivery) Extend(lease time.Duration) error {
	if d != nil && d.sub != nil && d.sub.obs != nil {
		start := d.sub.now()
		err := d.extend(lease)
		d.sub.obs.Settled(d, Settlement{Op: SettleExtend, Delay: lease, Err: err, Start: start, Emulated: !d.sub.caps.Lease.Has()})
		return err
	}
	return d.extend(lease)
}

func (d *Delivery) extend(lease time.Duration) error {
	const op = "mq.Delivery.Extend"
	if d == nil || d.sub == nil {
		return newError(InvalidArgument, op, "not a received delivery", nil)
	}
	s := d.sub
	if lease <= 0 || (s.caps.MaxLease > 0 && lease > s.caps.MaxLease) {
		return newError(InvalidArgument, op, "lease "+lease.String()+" outside the backend's range (0, "+s.caps.MaxLease.String()+"]", nil)
	}
	if lease < s.caps.MinLease {
		lease = s.caps.MinLease
	}
	switch d.state.Load() {
	case stateSettled, stateAcked:
		return &Error{Code: FailedPrecondition, Op: op, Msg: "delivery already settled", kind: kindSettled}
	case stateExpired:
		return &Error{Code: FailedPrecondition, Op: op, Msg: "lease expired; the message will be delivered again", kind: kindLeaseExpired}
	}
	if !s.gate.enter() {
		return s.closedError(op)
	}
	defer s.gate.leave()
	until := s.now().Add(lease)
	if !s.caps.Lease.Has() {
		if !s.emulator().extendLease(d, until) {
			return &Error{Code: FailedPrecondition, Op: op, Msg: "lease expired or delivery settled", kind: kindLeaseExpired}
		}
		return nil
	}
	if err := s.ext.Extend(s.opCtx, []driver.AckID{d.ackID}, lease); err != nil {
		return wrapDriver(s.d, op, err)
	}
	d.deadline.Store(until.UnixNano())
	return nil
}

// DeadLetter moves the message to the subscription's dead-letter
// destination now, with reason recorded in AttrDeadLetterReason.
func (d *Delivery) DeadLetter(reason string) error {
	if d != nil && d.sub != nil && d.sub.obs != nil {
		start := d.sub.now()
		err := d.deadLetter(reason)
		d.sub.obs.Settled(d, Settlement{Op: SettleDeadLetter, Reason: reason, Err: err, Start: start, Emulated: !d.sub.caps.DeadLetter.Has()})
		return err
	}
	return d.deadLetter(reason)
}

func (d *Delivery) deadLetter(reason string) error {
	const op = "mq.Delivery.DeadLetter"
	s, err := d.begin(op)
	if err != nil {
		return err
	}
	defer s.gate.leave()
	s.untrackLease(d)
	return s.deadLetter(op, d, reason)
}
