package sqs

import (
	"sync/atomic"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/mq/driver"
)

// receipt is one delivery: the AckID's Ref. SQS accepts a stale receipt
// handle for DeleteMessage and ChangeMessageVisibility (it may even act on
// the message's current delivery), so the driver refuses to settle a
// receipt whose lease ended by its own clock (see leaseEnd for a received
// message; an extension counts from before its request).
type receipt struct {
	sub      *subscription
	msg      *sqstypes.Message // as received, for As and DeadLetter
	attempt  int
	received time.Time    // when the receiving request started
	deadline atomic.Int64 // unix nanos
	settled  atomic.Bool
}

// live reports whether the receipt can still be settled at now.
func (r *receipt) live(now time.Time) bool {
	return !r.settled.Load() && now.UnixNano() < r.deadline.Load()
}

// NativeAs implements driver.NativeAs for Delivery.As: *types.Message (a
// copy) or **types.Message of the AWS SDK's sqs/types package.
func (r *receipt) NativeAs(i any) bool {
	switch p := i.(type) {
	case **sqstypes.Message:
		if p == nil {
			return false
		}
		*p = r.msg
		return true
	case *sqstypes.Message:
		if p == nil {
			return false
		}
		*p = *r.msg
		return true
	}
	return false
}

// receipts picks the live receipts of this subscription among ids,
// setting errs[i] (allocating errs on first need) for the others. It
// returns the receipts and their indexes in ids.
func (s *subscription) receipts(ids []driver.AckID, now time.Time, errs *[]error) ([]*receipt, []int) {
	rs := make([]*receipt, 0, len(ids))
	idx := make([]int, 0, len(ids))
	for i, id := range ids {
		r, ok := id.Ref.(*receipt)
		if !ok || r == nil || r.sub != s || !r.live(now) {
			setErr(errs, len(ids), i, leaseExpired(nil))
			continue
		}
		rs = append(rs, r)
		idx = append(idx, i)
	}
	return rs, idx
}

// setErr records err as item i's in *errs, making it on the first error.
// Concurrent batches of one call share errs, made before they start, so
// that this only writes errs[i]: it must not assign *errs then.
func setErr(errs *[]error, n, i int, err error) {
	if *errs == nil {
		*errs = make([]error, n)
	}
	(*errs)[i] = err
}

// track records handed-out receipts, so that Close can hand back what is
// still unsettled; s.mu must be held.
func (s *subscription) trackLocked(rs []*receipt) {
	for _, r := range rs {
		s.out[r] = struct{}{}
	}
}

// settle marks receipts settled and forgets them.
func (s *subscription) settle(rs ...*receipt) {
	s.mu.Lock()
	for _, r := range rs {
		r.settled.Store(true)
		delete(s.out, r)
	}
	s.mu.Unlock()
}

// sweepLocked forgets receipts whose lease ended (SQS delivers their
// messages again); s.mu must be held.
func (s *subscription) sweepLocked(now time.Time) {
	if now.Sub(s.swept) < min(s.lease, time.Minute) {
		return
	}
	s.swept = now
	for r := range s.out {
		if !r.live(now) {
			delete(s.out, r)
		}
	}
}
