package gcppubsub

import (
	"context"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portmq/portmq/mq/driver"
)

// receiver runs unary Pull calls for ReceiveBatch. A Pull runs on a
// goroutine with the subscription's lifetime, not the caller's context:
// canceling a Pull whose response is already on its way would leave the
// messages in it leased to nobody until their ack deadline passes (and
// count an attempt). When the caller gives up first, the messages of its
// Pull go to ready, where the next ReceiveBatch takes them; those not
// taken while more than a quarter of their lease is left are nacked, so
// none sits in the buffer while its deadline runs out.
type receiver struct {
	s      *subscription
	ctx    context.Context // canceled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // Pull goroutines and the stale timer

	mu       sync.Mutex
	ready    []driver.Message // pulled, not yet handed out
	wake     chan struct{}    // closed and replaced when a Pull ends
	inflight int              // Pull calls running
	waiting  int              // ReceiveBatch calls waiting for one
	err      error            // a Pull error for a waiting caller
	timer    *time.Timer      // tends ready messages low on lease; nil if unarmed
	closed   bool
	busy     map[string]*delivery // ordered: each key's delivery in flight
}

func (r *receiver) init(s *subscription) {
	r.s = s
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wake = make(chan struct{})
}

// receive implements ReceiveBatch.
func (r *receiver) receive(ctx context.Context, dst []driver.Message) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	if len(dst) > maxBatch {
		dst = dst[:maxBatch]
	}
	var stale []*delivery
	defer func() {
		if len(stale) > 0 {
			r.nackStale(stale)
		}
	}()
	r.mu.Lock()
	for {
		if r.closed {
			r.mu.Unlock()
			return 0, errSubClosed
		}
		if n := r.takeLocked(dst, &stale); n > 0 {
			r.mu.Unlock()
			return n, nil
		}
		if r.err != nil {
			err := r.err
			r.err = nil
			r.mu.Unlock()
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			r.mu.Unlock()
			return 0, err
		}
		// One Pull per waiting caller: a Pull its caller abandoned serves
		// the next one.
		if r.inflight <= r.waiting {
			r.inflight++
			r.wg.Add(1)
			go r.pull(len(dst))
		}
		r.waiting++
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
		}
		r.mu.Lock()
		r.waiting--
	}
}

// takeLocked hands ready messages out into dst; see sweepLocked.
func (r *receiver) takeLocked(dst []driver.Message, stale *[]*delivery) int {
	if len(r.ready) == 0 {
		return 0
	}
	return r.sweepLocked(dst, stale, nil)
}

// pull runs one Pull call for up to n messages and hands its result to
// the waiting callers.
func (r *receiver) pull(n int) {
	defer r.wg.Done()
	start := time.Now()
	resp, err := r.s.subc.Pull(r.ctx, &pb.PullRequest{Subscription: r.s.name, MaxMessages: int32(n)})
	recv := time.Now()
	var msgs []driver.Message
	if err == nil {
		msgs = r.s.convert(resp.GetReceivedMessages(), start, recv)
	} else if status.Code(err) == codes.DeadlineExceeded && r.ctx.Err() == nil {
		err = nil // a long poll that found nothing
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight--
	if err != nil && r.waiting > 0 && r.ctx.Err() == nil {
		r.err = wrap(err, "pull from %s", r.s.name)
	}
	r.ready = append(r.ready, msgs...)
	close(r.wake)
	r.wake = make(chan struct{})
	if len(r.ready) > 0 && r.timer == nil && !r.closed {
		r.armLocked()
	}
}

// armLocked starts the timer that nacks ready messages whose lease runs
// low.
func (r *receiver) armLocked() {
	oldest := int64(0)
	for i := range r.ready {
		dl := r.ready[i].AckID.Ref.(*delivery).deadline.Load()
		if oldest == 0 || dl < oldest {
			oldest = dl
		}
	}
	wait := time.Until(time.Unix(0, oldest).Add(-r.s.staleMargin()))
	r.wg.Add(1)
	r.timer = time.AfterFunc(max(wait, 0), r.expire)
}

func (r *receiver) expire() {
	defer r.wg.Done()
	var stale, extend []*delivery
	r.mu.Lock()
	r.timer = nil
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.sweepLocked(nil, &stale, &extend)
	if len(r.ready) > 0 {
		r.armLocked()
	}
	r.mu.Unlock()
	r.nackStale(stale)
	r.extendHeld(extend)
}

// nackStale hands back ready messages nobody took in time.
func (r *receiver) nackStale(stale []*delivery) {
	ackIDs := make([]string, 0, len(stale))
	for _, d := range stale {
		if d.settled.CompareAndSwap(false, true) {
			r.s.out.remove(d)
			ackIDs = append(ackIDs, d.ackID)
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, closeTimeout)
	defer cancel()
	_ = r.s.modack(ctx, ackIDs, 0)
}

// close stops pulling and waits for the Pull goroutines. Messages still
// ready stay outstanding; the subscription hands them back.
func (r *receiver) close() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil && r.timer.Stop() {
		r.wg.Done()
	}
	r.timer = nil
	r.ready = nil
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}
