package gcppubsub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/portmq/portmq/mq/driver"
)

// Ack deadlines: Pub/Sub takes whole seconds, 0 to 600 in
// ModifyAckDeadline (0 is a nack) and 10 to 600 on a subscription.
const (
	maxAckDeadline     = 600 * time.Second
	defaultAckDeadline = 10 * time.Second
)

// delivery is the AckID.Ref of one delivery. Pub/Sub accepts acks of
// expired ack IDs silently (and ignores them), so the driver keeps each
// delivery's deadline itself to report ErrLeaseExpired honestly: a
// settling call at or after the deadline is refused and the message is
// left to come back.
type delivery struct {
	sub      *subscription
	ackID    string
	key      string       // ordering key, on ordered subscriptions only
	deadline atomic.Int64 // unix nanos; never later than the server's
	settled  atomic.Bool

	prev, next *delivery // in sub.outstanding while unsettled; guarded by sub.omu
}

// outstanding is the list of deliveries handed out and not settled, so
// that Close can hand them back at once.
type outstanding struct {
	mu   sync.Mutex
	head delivery // sentinel
}

func (o *outstanding) init() { o.head.prev, o.head.next = &o.head, &o.head }

// add links new deliveries at the tail. It first unlinks expired ones
// from the head (deliveries the application dropped, or mq let run out
// in its buffer), so the list does not grow with them; settling an
// unlinked delivery still fails with ErrLeaseExpired.
func (o *outstanding) add(ds []delivery) {
	now := time.Now().UnixNano()
	o.mu.Lock()
	for d := o.head.next; d != &o.head && now >= d.deadline.Load(); d = o.head.next {
		o.head.next, d.next.prev = d.next, &o.head
		d.prev, d.next = nil, nil
	}
	for i := range ds {
		d := &ds[i]
		d.prev, d.next = o.head.prev, &o.head
		o.head.prev.next = d
		o.head.prev = d
	}
	o.mu.Unlock()
}

// remove unlinks a delivery the caller settled (won settled's CAS).
func (o *outstanding) remove(d *delivery) {
	o.mu.Lock()
	if d.next != nil {
		d.prev.next, d.next.prev = d.next, d.prev
		d.prev, d.next = nil, nil
	}
	o.mu.Unlock()
}

// drain settles every delivery still outstanding and returns the ack IDs
// of those whose deadline has not passed.
func (o *outstanding) drain(now int64) []string {
	var ids []string
	o.mu.Lock()
	for d := o.head.next; d != &o.head; {
		next := d.next
		d.prev, d.next = nil, nil
		if d.settled.CompareAndSwap(false, true) && now < d.deadline.Load() {
			ids = append(ids, d.ackID)
		}
		d = next
	}
	o.head.prev, o.head.next = &o.head, &o.head
	o.mu.Unlock()
	return ids
}

// claimed sorts the deliveries named by a settling call: live ones (this
// handle's, unsettled, deadline ahead) go to ackIDs with their index in
// idx; the others get ErrLeaseExpired in errs (allocated on first use).
// With settle, live deliveries are marked settled and unlinked.
type claimed struct {
	ackIDs []string
	idx    []int
	live   []*delivery
	errs   []error
	keyed  []keyedItem // settled deliveries with an ordering key

	// Room for the common single-item call, in the same allocation.
	ackID1 [1]string
	idx1   [1]int
	live1  [1]*delivery
}

type keyedItem struct {
	d *delivery
	i int
}

func (s *subscription) claim(ids []driver.AckID, settle bool) *claimed {
	c := new(claimed)
	if len(ids) <= 1 {
		c.ackIDs, c.idx, c.live = c.ackID1[:0], c.idx1[:0], c.live1[:0]
	} else {
		c.ackIDs, c.idx = make([]string, 0, len(ids)), make([]int, 0, len(ids))
		if !settle {
			c.live = make([]*delivery, 0, len(ids))
		}
	}
	now := time.Now().UnixNano()
	for i, id := range ids {
		d, ok := id.Ref.(*delivery)
		switch {
		case !ok || d == nil || d.sub != s:
		case settle && !d.settled.CompareAndSwap(false, true):
			d = nil
		case !settle && d.settled.Load():
			d = nil
		default:
			if settle {
				s.out.remove(d)
				if d.key != "" {
					c.keyed = append(c.keyed, keyedItem{d, i})
				}
			}
			if now >= d.deadline.Load() {
				d = nil
			}
		}
		if d == nil || !ok {
			c.fail(i, len(ids), driver.ErrLeaseExpired())
			continue
		}
		c.ackIDs = append(c.ackIDs, d.ackID)
		c.idx = append(c.idx, i)
		if !settle {
			c.live = append(c.live, d)
		}
	}
	return c
}

func (c *claimed) fail(i, n int, err error) { c.errs = driver.SetItemError(c.errs, n, i, err) }

// result turns the per-item errors into the SPI's shape (driver.BatchResult).
func (c *claimed) result() error { return driver.BatchResult(c.errs) }

// rpc calls f on the live ack IDs, in one request (mq passes at most
// Capabilities.MaxBatch IDs per call), and records its error on each of
// them.
func (c *claimed) rpc(total int, f func(ids []string) error) {
	if len(c.ackIDs) == 0 {
		return
	}
	if err := f(c.ackIDs); err != nil {
		for _, i := range c.idx {
			c.fail(i, total, err)
		}
	}
}

// modack sends ModifyAckDeadline(secs) for ackIDs in chunks of maxBatch:
// Close hands back every outstanding delivery, and ordering keys hold
// deliveries mq has not named, in more than one request.
func (s *subscription) modack(ctx context.Context, ackIDs []string, secs int32) error {
	var first error
	for start := 0; start < len(ackIDs); start += maxBatch {
		end := min(start+maxBatch, len(ackIDs))
		err := s.subc.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: s.name, AckIds: ackIDs[start:end], AckDeadlineSeconds: secs})
		if err != nil && first == nil {
			first = wrap(err, "modify ack deadline on %s", s.name)
		}
	}
	return first
}

// seconds rounds d up to whole seconds, as Pub/Sub takes them, within
// [0, 600].
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	if d >= maxAckDeadline {
		return int32(maxAckDeadline / time.Second)
	}
	return int32((d + time.Second - 1) / time.Second)
}
