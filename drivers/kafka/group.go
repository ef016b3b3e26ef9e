package kafka

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupSource consumes topics in a classic consumer group. It joins the
// group lazily (on the first ReceiveBatch) through a member, and the
// member leaves when the handle is idle or closes, so that a handle
// nobody receives from does not sit on partitions.
type groupSource struct {
	s      *subscription
	id     string   // the group
	topics []string // the subscribed topic and/or the retry topic
	m      *member  // guarded by s.mu; nil when not in the group
}

// member is one membership of the group: a kgo client, its fetch loop
// and its committer.
type member struct {
	g      *groupSource
	cl     *kgo.Client
	ctx    context.Context // ends when the member is torn down
	cancel context.CancelFunc
	loops  sync.WaitGroup // fetch loop and committer
	copies sync.WaitGroup // background copies of its entries
	left   chan struct{}  // closed when teardown is done

	// Guarded by s.mu.
	parts      map[tp]*partition
	out        int  // entries handed out or busy
	held       int  // entries held for their due time
	closing    bool // torn down: callbacks do nothing, nothing is handed out
	pollCancel context.CancelFunc
	seeks      []*seekReq
	settled    chan struct{} // signaled when a revoking partition's delivery settles
}

type tp struct {
	topic string
	id    int32
}

// join creates a member and starts its goroutines. Called with s.mu held.
func (g *groupSource) join() error {
	s := g.s
	m := &member{g: g, parts: make(map[tp]*partition), settled: make(chan struct{}, 1), left: make(chan struct{})}
	opts := slices.Clone(s.base.Opts())
	opts = append(opts,
		kgo.ConsumerGroup(g.id),
		kgo.ConsumeTopics(g.topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RebalanceTimeout(max(60*time.Second, s.o.RevokeWait+10*time.Second)),
		kgo.OnPartitionsAssigned(m.onAssigned),
		kgo.OnPartitionsRevoked(m.onRevoked),
		kgo.OnPartitionsLost(m.onLost),
	)
	opts = append(opts, s.o.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return invalid("consumer client options: %v", err)
	}
	m.cl = cl
	m.ctx, m.cancel = context.WithCancel(context.Background())
	g.m = m
	m.loops.Go(m.fetchLoop)
	m.loops.Go(m.commitLoop)
	return nil
}

func (m *member) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	s := m.g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.closing {
		return
	}
	for t, ids := range assigned {
		for _, id := range ids {
			k := tp{t, id}
			if p := m.parts[k]; p == nil || p.dead {
				m.parts[k] = newPartition(m, t, id, t == s.o.RetryTopic && t != s.topic)
			}
		}
	}
}

// onRevoked lets the revoked partitions' handed-out deliveries settle
// (up to RevokeWait), commits what is settled and drops the partitions.
// Nothing more of them is handed out meanwhile.
func (m *member) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	s := m.g.s
	s.mu.Lock()
	if m.closing {
		s.mu.Unlock()
		return
	}
	var ps []*partition
	for t, ids := range revoked {
		for _, id := range ids {
			if p := m.parts[tp{t, id}]; p != nil && !p.dead {
				p.revoking = true
				ps = append(ps, p)
			}
		}
	}
	deadline := time.NewTimer(s.o.RevokeWait)
	defer deadline.Stop()
wait:
	for !m.closing && slices.ContainsFunc(ps, func(p *partition) bool { return p.out > 0 }) {
		s.mu.Unlock()
		select {
		case <-m.settled:
			s.mu.Lock()
		case <-deadline.C:
			s.mu.Lock()
			break wait
		case <-ctx.Done():
			s.mu.Lock()
			break wait
		}
	}
	if m.closing {
		s.mu.Unlock()
		return
	}
	offsets := m.frontiersLocked(ps, true)
	for _, p := range ps {
		m.dropLocked(p)
	}
	s.mu.Unlock()
	m.commit(ctx, offsets)
}

func (m *member) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s := m.g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ids := range lost {
		for _, id := range ids {
			if p := m.parts[tp{t, id}]; p != nil {
				m.dropLocked(p)
			}
		}
	}
}

func (m *member) notifySettled() {
	select {
	case m.settled <- struct{}{}:
	default:
	}
}

// dropLocked forgets a partition: its entries become stale, so their
// deliveries can no longer be settled (another member redelivers them).
func (m *member) dropLocked(p *partition) {
	s := m.g.s
	if p.dead {
		return
	}
	p.dead = true
	for _, e := range p.ents[p.head:] {
		switch e.state {
		case stHeld:
			if e.heapIdx >= 0 {
				heapRemove(&s.due, e)
			}
			m.held--
		case stOut, stBusy:
			m.out--
		}
	}
	p.ents, p.keys = nil, nil
	if m.parts[tp{p.topic, p.id}] == p {
		delete(m.parts, tp{p.topic, p.id})
	}
	if m.out == 0 {
		s.noteSettledLocked()
	}
}

// frontiersLocked returns the offsets to commit for ps (all live
// partitions when ps is nil); with force, also those committed already.
func (m *member) frontiersLocked(ps []*partition, force bool) map[string]map[int32]kgo.EpochOffset {
	var out map[string]map[int32]kgo.EpochOffset
	add := func(p *partition) {
		f := p.frontier()
		if p.dead || f < 0 || (!force && f == p.committed) {
			return
		}
		if out == nil {
			out = make(map[string]map[int32]kgo.EpochOffset)
		}
		if out[p.topic] == nil {
			out[p.topic] = make(map[int32]kgo.EpochOffset)
		}
		out[p.topic][p.id] = kgo.EpochOffset{Epoch: -1, Offset: f}
	}
	if ps == nil {
		for _, p := range m.parts {
			add(p)
		}
	} else {
		for _, p := range ps {
			add(p)
		}
	}
	return out
}

// commit commits offsets synchronously and records what was committed.
func (m *member) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) {
	if len(offsets) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var ok []tp
	m.cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					ok = append(ok, tp{t.Topic, p.Partition})
				}
			}
		}
	})
	s := m.g.s
	s.mu.Lock()
	for _, k := range ok {
		if p := m.parts[k]; p != nil {
			p.committed = offsets[k.topic][k.id].Offset
		}
	}
	s.mu.Unlock()
}

// fetchLoop polls while the ready queue has room and turns records into
// entries.
func (m *member) fetchLoop() {
	s := m.g.s
	for s.waitSpace(m.ctx) {
		pctx, cancel := context.WithCancel(m.ctx)
		s.mu.Lock()
		m.pollCancel = cancel
		s.mu.Unlock()
		fs := m.cl.PollRecords(pctx, s.o.MaxPollRecords)
		cancel()
		if m.ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		n := m.admit(fs) // before any seek: these records were fetched before it
		m.runSeeks()
		if n == 0 && len(fs.Errors()) > 0 && !sleepCtx(m.ctx, 100*time.Millisecond) {
			return
		}
	}
}

// admit turns polled records into entries and returns how many.
func (m *member) admit(fs kgo.Fetches) int {
	s := m.g.s
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteFetchErrorsLocked(fs)
	n := 0
	slab := make([]entry, fs.NumRecords()) // one allocation for the poll's entries
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		p := m.parts[tp{fp.Topic, fp.Partition}]
		if p == nil || p.dead || p.revoking || m.closing {
			return
		}
		for _, r := range fp.Records {
			md := readMeta(r)
			e := &slab[n]
			*e = entry{rec: r, off: r.Offset, part: p, attempt: md.delivered + 1, due: md.due, heapIdx: -1}
			p.push(e)
			s.routeLocked(e, now)
			n++
		}
	})
	s.wakeLocked()
	return n
}

// commitLoop commits settled offsets every CommitInterval.
func (m *member) commitLoop() {
	s := m.g.s
	t := time.NewTicker(s.o.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		offsets := m.frontiersLocked(nil, false)
		s.mu.Unlock()
		m.commit(m.ctx, offsets)
	}
}

// teardown leaves the group: it stops the loops, waits (a bounded time)
// for background copies, commits what is settled and closes the client.
// The member is already detached and marked closing.
func (g *groupSource) teardown(m *member) {
	s := g.s
	m.cancel()
	m.loops.Wait()
	waitTimeout(&m.copies, 10*time.Second)
	s.mu.Lock()
	offsets := m.frontiersLocked(nil, false)
	for _, p := range m.parts {
		m.dropLocked(p)
	}
	s.mu.Unlock()
	m.commit(context.Background(), offsets)
	m.cl.Close()
	close(m.left)
}

// waitTimeout waits for wg, at most d.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
