package kafka

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/internal/notify"
	"github.com/portmq/portmq/mq"
)

// shareSource consumes the subscribed topic in a share group (KIP-932).
// The broker acquires records for a member when it fetches, counts their
// deliveries and releases them when their acquisition lock ends or the
// member goes away. franz-go accepts every record of a poll that is not
// acknowledged when the next poll starts, so the loop polls again only
// once every record of the previous poll is settled, and only while
// somebody waits in ReceiveBatch. Like a consumer group, a share group
// assigns each partition to some of its members, so a handle nobody
// receives from leaves the group (see checkIdleLocked).
type shareSource struct {
	s    *subscription
	kick notify.Kick

	// Guarded by s.mu.
	m          *shareMember // nil when not in the group
	pollCancel context.CancelFunc
}

// shareMember is one membership of the share group.
type shareMember struct {
	sh     *shareSource
	cl     *kgo.Client
	copies sync.WaitGroup // background copies of its entries

	// Guarded by s.mu.
	pending  int      // entries of the last poll not settled
	batch    []*entry // entries of the last poll
	leaving  bool     // detached: nothing more is admitted or handed out
	gone     bool     // left: its entries are stale
	lockDur  int64    // acquisition lock duration seen, in ns
	lockEnd  int64    // Unix ns when the last poll's locks end
	renewAt  int64    // Unix ns when to renew the locks of the last poll
	flushing bool     // a flush of acknowledgements is running
}

// ackFlushDelay is how long franz-go may keep an acknowledgement before
// sending it.
const ackFlushDelay = int64(time.Second)

// settledLocked notes that one of the member's records was acknowledged:
// when its lock ends sooner than the client would send the
// acknowledgement, it is sent now, or the broker would hand the record
// out again.
func (m *shareMember) settledLocked() {
	if m.lockEnd != 0 && m.lockEnd-time.Now().UnixNano() < ackFlushDelay+ackFlushDelay/2 {
		m.flushSoonLocked()
	}
}

// flushSoonLocked flushes the acknowledgements in the background.
func (m *shareMember) flushSoonLocked() {
	if m.flushing {
		return
	}
	m.flushing = true
	s := m.sh.s
	s.wg.Go(func() {
		ctx, cancel := context.WithTimeout(s.ctx, time.Duration(ackFlushDelay))
		defer cancel()
		_ = m.cl.FlushAcks(ctx)
		s.mu.Lock()
		m.flushing = false
		s.mu.Unlock()
	})
}

func newShareSource(s *subscription) *shareSource {
	return &shareSource{s: s, kick: notify.NewKick()}
}

// loop polls when the previous poll is settled and somebody receives.
func (sh *shareSource) loop() {
	s := sh.s
	fails := 0
	for {
		s.mu.Lock()
		for !s.closed && (s.receivers == 0 || (sh.m != nil && sh.m.pending > 0)) {
			s.mu.Unlock()
			select {
			case <-s.ctx.Done():
				return
			case <-sh.kick:
			}
			s.mu.Lock()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		m := sh.m
		if m == nil {
			s.mu.Unlock()
			cl, err := sh.newClient()
			s.mu.Lock()
			if err != nil {
				s.fatal = err
				s.wakeAll()
				s.mu.Unlock()
				if fails++; clock.Sleep(s.ctx, clock.Real{}, retryBackoff.Delay(fails), nil) != nil {
					return
				}
				continue
			}
			if s.closed {
				s.mu.Unlock()
				cl.Close()
				return
			}
			m = &shareMember{sh: sh, cl: cl}
			sh.m = m
		}
		pctx, cancel := context.WithCancel(s.ctx)
		sh.pollCancel = cancel
		s.mu.Unlock()
		polled := time.Now().UnixNano()
		fs := m.cl.PollRecords(pctx, s.o.MaxPollRecords)
		cancel()
		s.mu.Lock()
		sh.pollCancel = nil
		s.mu.Unlock()
		if s.ctx.Err() != nil {
			return
		}
		if fails = failed(fails, m.admit(fs, polled) == 0 && len(fs.Errors()) > 0); fails > 0 && clock.Sleep(s.ctx, clock.Real{}, retryBackoff.Delay(fails), nil) != nil {
			return
		}
	}
}

func (sh *shareSource) newClient() (*kgo.Client, error) {
	s := sh.s
	opts := slices.Clone(s.base.Opts())
	opts = append(opts,
		kgo.ShareGroup(s.group),
		kgo.ConsumeTopics(s.topic),
		kgo.ShareMaxRecords(int32(s.o.MaxPollRecords)),
		kgo.ShareMaxRecordsStrict(),
	)
	opts = append(opts, s.o.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, invalid("share consumer client options: %v", err)
	}
	return cl, nil
}

// admit turns polled records into entries and returns how many. Records
// polled by a member that left meanwhile are left to its client, which
// releases them as it closes.
func (m *shareMember) admit(fs kgo.Fetches, polled int64) int {
	s := m.sh.s
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteFetchErrorsLocked(fs)
	if m.leaving || m.gone {
		return 0
	}
	n := 0
	m.batch = m.batch[:0]
	slab := make([]entry, fs.NumRecords()) // one allocation for the poll's entries
	fs.EachRecord(func(r *kgo.Record) {
		md := readMeta(r)
		e := &slab[n]
		*e = entry{rec: r, off: r.Offset, sh: m, attempt: max(int(r.DeliveryCount()), 1), due: md.due, heapIdx: -1}
		if dl := r.AcquisitionDeadline(); !dl.IsZero() {
			m.lockEnd = dl.UnixNano()
			if d := m.lockEnd - polled; d > 0 {
				m.lockDur = d
			}
		}
		m.pending++
		m.batch = append(m.batch, e)
		s.routeLocked(e, now)
		n++
	})
	if n > 0 && m.lockDur > 0 {
		m.renewAt = polled + m.lockDur/2
		s.kick.Notify()
	}
	s.wakeLocked()
	return n
}

// renewLocked renews the acquisition locks of the last poll's unsettled
// records when half the lock has passed (AckRenew, KIP-1222), so that a
// delivery mq keeps longer than the broker's lock is not handed to
// another member. It returns how long until the next renewal, 0 for none.
func (sh *shareSource) renewLocked(now int64) int64 {
	m := sh.m
	if m == nil || m.renewAt == 0 || m.pending == 0 {
		return 0
	}
	if now < m.renewAt {
		return m.renewAt - now
	}
	for _, e := range m.batch {
		if e.state != stDone {
			e.rec.Ack(kgo.AckRenew)
		}
	}
	m.lockEnd = now + m.lockDur
	m.flushSoonLocked() // a renewal must not wait for the client's flush
	half := max(m.lockDur/2, int64(10*time.Millisecond))
	m.renewAt = now + half
	return half
}

// leaveIfIdleLocked gives the records fetched but not handed out back to
// the group and leaves it, unless deliveries are out.
func (sh *shareSource) leaveIfIdleLocked() {
	m := sh.m
	if m == nil {
		return
	}
	for _, e := range m.batch {
		if e.state == stOut || e.state == stBusy {
			return
		}
	}
	for _, e := range m.batch {
		if e.state == stReady {
			sh.s.finishLocked(e, kgo.AckRelease)
		}
	}
	sh.m = nil
	m.leaving = true
	sh.s.wg.Go(func() { m.leave() })
}

// flush sends pending acknowledgements now (a release must reach the
// broker for another member to get the record).
func (sh *shareSource) flush(ctx context.Context) {
	sh.s.mu.Lock()
	var cl *kgo.Client
	if sh.m != nil {
		cl = sh.m.cl
	}
	sh.s.mu.Unlock()
	if cl != nil {
		_ = cl.FlushAcks(ctx)
	}
}

// close leaves the group at Close.
func (sh *shareSource) close() {
	sh.s.mu.Lock()
	m := sh.m
	sh.m = nil
	if m != nil {
		m.leaving = true
	}
	sh.s.mu.Unlock()
	if m != nil {
		m.leave()
	}
}

// leave waits (a bounded time) for background copies, then closes the
// client, which acknowledges what was settled and releases the rest.
func (m *shareMember) leave() {
	notify.WaitTimeout(&m.copies, 10*time.Second)
	s := m.sh.s
	s.mu.Lock()
	m.gone = true
	s.mu.Unlock()
	m.cl.Close()
}

// retryBackoff spaces the retries of a fetch loop whose polls fail (or
// whose client cannot be made): mq's backoff, from 100 ms doubling to 5 s.
var retryBackoff = mq.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// failed returns the count of consecutive failures after a poll that
// failed or not.
func failed(fails int, failure bool) int {
	if failure {
		return fails + 1
	}
	return 0
}
