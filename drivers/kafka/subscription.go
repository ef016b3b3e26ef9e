package kafka

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/internal/heapq"
	"github.com/portmq/portmq/internal/notify"
	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// subscription is a driver.Subscription on one topic and consumer or
// share group. Fetched records become entries; entries ready for delivery
// wait in a FIFO for ReceiveBatch; entries not yet due wait in a heap run
// by one scheduler goroutine. Everything is guarded by mu.
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
	ready      fifo
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

// holdCap is how many entries a partition may keep waiting (for their
// due time or behind their key) before its fetching is paused. Tests
// lower it.
var holdCap = 1000

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

// ReceiveBatch hands out ready entries, joining the group on first use.
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err // a receiver that gave up takes nothing
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errClosed
	}
	if err := s.activateLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.receivers++
	defer s.leaveReceiveLocked()
	for {
		if n, counts := s.takeLocked(dst); n > 0 {
			if counts != nil {
				// Delivery counts to commit before handing out (see
				// member.admit); once per partition and assignment.
				s.mu.Unlock()
				for m, set := range counts {
					m.commit(ctx, set)
				}
				s.mu.Lock()
			}
			return n, nil
		}
		if s.closed {
			return 0, errClosed
		}
		if err := s.fatal; err != nil {
			s.fatal = nil
			return 0, err
		}
		w := s.wake.Wait()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			return 0, ctx.Err()
		case <-w:
		}
		s.mu.Lock()
	}
}

// leaveReceiveLocked ends a ReceiveBatch call (and unlocks mu): the last
// receiver to leave starts the idleness clock and stops a share fetch
// nobody waits for.
func (s *subscription) leaveReceiveLocked() {
	s.receivers--
	if s.receivers == 0 {
		s.lastActive = time.Now().UnixNano()
		s.armIdleLocked()
		if sh := s.share; sh != nil && sh.pollCancel != nil {
			sh.pollCancel()
		}
	}
	s.mu.Unlock()
}

// activateLocked makes sure every source consumes: it joins the groups
// this handle left (or never joined) and wakes the share fetcher.
func (s *subscription) activateLocked() error {
	for _, g := range s.groups {
		if g.m == nil {
			if err := g.join(); err != nil {
				return err
			}
		}
	}
	if s.share != nil {
		s.share.kick.Notify()
	}
	return nil
}

// takeLocked hands out up to len(dst) ready entries. (mq wakes the other
// Receive calls waiting here when one call brings back more than its
// caller takes, so one call may take a whole batch.)
func (s *subscription) takeLocked(dst []driver.Message) (int, map[*member]commitSet) {
	var counts map[*member]commitSet
	n := 0
	for n < len(dst) && s.ready.len() > 0 {
		e := s.ready.pop()
		if e.state != stReady || !s.handableLocked(e) {
			continue
		}
		e.state = stOut
		e.gen++
		if p := e.part; p != nil {
			p.out++
			p.m.out++
			if e.off == p.metaOff {
				p.metaN = e.attempt - e.base
				if c := (commitAt{off: e.off, n: p.metaN}); c != p.committedAt {
					if counts == nil {
						counts = make(map[*member]commitSet)
					}
					if counts[p.m] == nil {
						counts[p.m] = make(commitSet)
					}
					counts[p.m][tp{p.topic, p.id}] = c
				}
			}
		}
		m := &dst[n]
		*m = driver.Message{AckID: driver.AckID{Ref: e, Seq: e.gen}, Attempt: e.attempt, Native: e.rec}
		fillMessage(m, e.rec)
		n++
	}
	s.setIDsLocked(dst[:n])
	if n > 0 && s.ready.len() > 0 {
		s.wakeLocked() // others take what is left
	}
	if n > 0 && s.ready.len() < s.o.MaxPollRecords {
		s.space.Fire()
	}
	return n, counts
}

// setIDsLocked gives the messages that carry no ID header their ID,
// PARTITION-OFFSET.
func (s *subscription) setIDsLocked(ms []driver.Message) {
	l := &s.ids
	l.reset()
	for i := range ms {
		if ms[i].ID == "" {
			r := ms[i].AckID.Ref.(*entry).rec
			l.add(r.Partition, r.Offset)
		}
	}
	k := 0
	for i := range ms {
		if ms[i].ID == "" {
			ms[i].ID = l.id(k)
			k++
		}
	}
	l.reset() // drops the string; keeps the scratch
}

// handableLocked reports whether e may be handed out now.
func (s *subscription) handableLocked(e *entry) bool {
	if p := e.part; p != nil {
		return !p.dead && !p.revoking && !p.m.closing
	}
	return e.sh != nil && !e.sh.gone && !e.sh.leaving
}

// waitSpace waits until the ready queue has room for another fetch.
func (s *subscription) waitSpace(ctx context.Context) bool {
	s.mu.Lock()
	for s.ready.len() >= s.o.MaxPollRecords && !s.closed {
		sp := s.space.Wait()
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-sp:
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return ctx.Err() == nil
}

// wakeAll wakes every waiting receiver, for an error or Close.
func (s *subscription) wakeAll() { s.wake.Fire() }

// wakeLocked wakes the receivers waiting for entries.
func (s *subscription) wakeLocked() {
	if s.ready.len() > 0 {
		s.wake.Fire()
	}
}

// noteFetchErrorsLocked keeps the first error of a poll worth returning
// from ReceiveBatch; the client retries every other one by itself.
func (s *subscription) noteFetchErrorsLocked(fs kgo.Fetches) {
	fs.EachError(func(t string, _ int32, err error) {
		switch errorCode(err) {
		case driver.PermissionDenied, driver.Unauthenticated:
			if s.fatal == nil {
				s.fatal = wrap("fetch "+t, err)
			}
		}
	})
}

// routeLocked decides what happens to a freshly fetched entry.
func (s *subscription) routeLocked(e *entry, now int64) {
	if redeliver.Exhausted(e.attempt-1, s.o.MaxAttempts) {
		// Delivered MaxAttempts times already (the broker counted
		// deliveries we never saw fail, or the limit was lowered).
		s.copyAsyncLocked(e, true, redeliver.MaxAttemptsReason(s.o.MaxAttempts), e.attempt-1)
		return
	}
	if p := e.part; p != nil && s.o.Ordered && len(e.rec.Key) > 0 {
		if !p.keys.Claim(string(e.rec.Key), e) {
			e.state = stQueued
			p.waiting++
			s.maybePauseLocked(p)
			return
		}
	}
	s.placeLocked(e, now, false)
}

// placeLocked makes e ready, or holds it until due. A record of the
// subscribed topic that is not due yet moves to the retry topic (unless
// inMemory or the subscription is ordered), so that it does not hold back
// the partition's committed offset.
func (s *subscription) placeLocked(e *entry, now int64, inMemory bool) {
	if e.due > now {
		if !inMemory && s.retryable(e) && (e.sh != nil || !e.part.retry) {
			s.copyAsyncLocked(e, false, "", e.attempt-1)
			return
		}
		e.state = stHeld
		s.due.Push(e)
		if p := e.part; p != nil {
			p.waiting++
			p.m.held++
			s.maybePauseLocked(p)
		}
		if s.due.Peek() == e {
			s.kick.Notify()
		}
		return
	}
	e.state = stReady
	s.ready.push(e)
}

// retryable reports whether e's retries go through the retry topic
// (unordered subscriptions) rather than memory.
func (s *subscription) retryable(e *entry) bool {
	return !s.o.Ordered
}

func (s *subscription) maybePauseLocked(p *partition) {
	if !p.paused && p.waiting >= holdCap && !p.dead {
		p.paused = true
		p.m.cl.PauseFetchPartitions(map[string][]int32{p.topic: {p.id}})
	}
}

func (s *subscription) maybeResumeLocked(p *partition) {
	if p.paused && p.waiting < holdCap/2 && !p.dead {
		p.paused = false
		p.m.cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.id}})
	}
}

// unholdLocked takes a held entry out of the waiting count.
func (s *subscription) unholdLocked(e *entry) {
	if p := e.part; p != nil {
		p.waiting--
		p.m.held--
		s.maybeResumeLocked(p)
	}
}

// outLocked returns the entry id names if it is handed out and current.
func (s *subscription) outLocked(id driver.AckID) *entry {
	e, ok := id.Ref.(*entry)
	if !ok || e == nil || e.state != stOut || e.gen != id.Seq || e.stale() {
		return nil
	}
	return e
}

// finishLocked settles e. For share records status says how.
func (s *subscription) finishLocked(e *entry, status kgo.AckStatus) {
	wasOut := e.state == stOut || e.state == stBusy
	e.state = stDone
	if m := e.sh; m != nil {
		if !m.gone {
			e.rec.Ack(status)
			m.settledLocked()
		}
		e.rec = nil
		m.pending--
		if m.pending == 0 {
			m.sh.kick.Notify()
		}
		s.noteSettledLocked()
		return
	}
	p := e.part
	var key string
	if s.o.Ordered {
		key = e.key() // a copy only where a key's queue needs it
	}
	e.rec = nil
	if p.dead {
		return
	}
	if wasOut {
		p.out--
		p.m.out--
		if p.revoking {
			p.m.settled.Notify()
		}
	}
	p.advance()
	if key != "" {
		s.releaseKeyLocked(p, e, key)
	}
	if p.m.out == 0 {
		s.noteSettledLocked()
	}
}

// noteSettledLocked restarts the idleness clock when nothing is handed
// out any more.
func (s *subscription) noteSettledLocked() {
	if s.receivers == 0 {
		s.lastActive = time.Now().UnixNano()
		s.armIdleLocked()
	}
}

// releaseKeyLocked lets the next message of e's key go once e is done.
func (s *subscription) releaseKeyLocked(p *partition, e *entry, key string) {
	next, ok := p.keys.Done(key, e)
	if !ok {
		return
	}
	p.waiting--
	s.maybeResumeLocked(p)
	s.placeLocked(next, time.Now().UnixNano(), false)
	s.wakeLocked()
}

// redeliverLocked makes a handed-out (or busy) entry available again at
// due, one attempt later, from memory; share records go back to the
// broker instead.
func (s *subscription) redeliverLocked(e *entry, due int64) {
	if e.sh != nil {
		s.finishLocked(e, kgo.AckRelease)
		return
	}
	p := e.part
	if p.dead {
		return
	}
	p.out--
	p.m.out--
	if p.revoking {
		p.m.settled.Notify()
	}
	e.attempt++
	e.due = due
	s.placeLocked(e, time.Now().UnixNano(), true)
	s.wakeLocked()
}

// armIdleLocked asks the scheduler to check, IdleLeave after the last
// activity, whether this handle should leave its groups.
func (s *subscription) armIdleLocked() {
	if s.idleAt == 0 && !s.closed {
		s.idleAt = s.lastActive + int64(s.o.IdleLeave)
		s.kick.Notify()
	}
}

// schedule runs the due heap, the idleness check and share lock renewals.
func (s *subscription) schedule() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := s.step()
		t.Reset(next)
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// step does what is due and returns how long until the next thing is.
func (s *subscription) step() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixNano()
	next := int64(time.Hour)
	promoted := false
	for s.due.Len() > 0 {
		e := s.due.Peek()
		if e.due > now {
			next = min(next, e.due-now)
			break
		}
		s.due.Pop()
		if e.state != stHeld || e.stale() {
			continue
		}
		s.unholdLocked(e)
		e.state = stReady
		s.ready.push(e)
		promoted = true
	}
	if promoted {
		s.wakeLocked()
	}
	if s.idleAt != 0 && now >= s.idleAt {
		s.idleAt = 0
		s.checkIdleLocked(now) // may re-arm
	}
	if s.idleAt != 0 {
		next = min(next, s.idleAt-now)
	}
	if sh := s.share; sh != nil {
		if d := sh.renewLocked(now); d > 0 {
			next = min(next, d)
		}
	}
	return time.Duration(max(next, int64(time.Millisecond)))
}

// checkIdleLocked leaves the groups (and gives back fetched share
// records) when nobody received for IdleLeave and nothing is out.
func (s *subscription) checkIdleLocked(now int64) {
	if s.closed || s.receivers > 0 {
		return
	}
	if since := now - s.lastActive; since < int64(s.o.IdleLeave) {
		s.idleAt = s.lastActive + int64(s.o.IdleLeave)
		return
	}
	for _, g := range s.groups {
		m := g.m
		if m == nil || m.out > 0 || (s.o.Ordered && m.held > 0) {
			continue
		}
		g.m = nil
		m.closing = true
		m.settled.Notify() // a revocation waiting for deliveries gives up
		s.wg.Go(func() { g.teardown(m) })
	}
	if s.share != nil {
		s.share.leaveIfIdleLocked()
	}
}

// Extend does nothing: mq keeps the lease (Capabilities.Lease is None).
func (s *subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	return nil
}

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

func (s *subscription) ErrorAs(err error, i any) bool        { return errorAs(err, i) }
func (s *subscription) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }
