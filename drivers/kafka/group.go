package kafka

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/internal/notify"
	"github.com/portmq/portmq/mq/driver/redeliver"
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
	settled    notify.Kick // signaled when a revoking partition's delivery settles
}

type tp struct {
	topic string
	id    int32
}

// join creates a member and starts its goroutines. Called with s.mu held.
func (g *groupSource) join() error {
	s := g.s
	m := &member{g: g, parts: make(map[tp]*partition), settled: notify.NewKick(), left: make(chan struct{})}
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
		kgo.OnOffsetsFetched(m.onFetched),
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

// dropLocked forgets a partition: its entries become stale, so their
// deliveries can no longer be settled (another member redelivers them).
func (m *member) dropLocked(p *partition) {
	s := m.g.s
	if p.dead {
		return
	}
	p.dead = true
	for _, e := range p.win.Pending() {
		switch e.state {
		case stHeld:
			if e.heapIdx >= 0 {
				s.due.Remove(e.heapIdx)
			}
			m.held--
		case stOut, stBusy:
			m.out--
		}
	}
	p.win.Reset(-1)
	p.keys.Reset()
	if m.parts[tp{p.topic, p.id}] == p {
		delete(m.parts, tp{p.topic, p.id})
	}
	if m.out == 0 {
		s.noteSettledLocked()
	}
}

// commitAt is what to commit for one partition: the offset and, when the
// record at that offset was handed out, its delivery count, kept in the
// commit's metadata so that a handle that takes the partition over after
// a crash counts the deliveries the dead one made (see admit).
type commitAt struct {
	off int64
	n   int
}

// commitSet is what to commit, per partition.
type commitSet map[tp]commitAt

// metadata is the commit metadata of c (redeliver.FormatCheckpoint).
func (c commitAt) metadata() string {
	return redeliver.FormatCheckpoint(strconv.FormatInt(c.off, 10), c.n)
}

// parseMetadata reads commit metadata written by metadata.
func parseMetadata(md string) (off int64, n int, ok bool) {
	pos, n, ok := redeliver.ParseCheckpoint(md)
	off, err := strconv.ParseInt(pos, 10, 64)
	if !ok || err != nil {
		return 0, 0, false
	}
	return off, n, true
}

// epochOffsets returns the offsets of set as kgo takes them.
func (set commitSet) epochOffsets() map[string]map[int32]kgo.EpochOffset {
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	for k, c := range set {
		if offsets[k.topic] == nil {
			offsets[k.topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[k.topic][k.id] = kgo.EpochOffset{Epoch: -1, Offset: c.off}
	}
	return offsets
}

// frontiersLocked returns what to commit for ps (all live partitions when
// ps is nil); with force, also what is committed already.
func (m *member) frontiersLocked(ps []*partition, force bool) commitSet {
	var out commitSet
	add := func(p *partition) {
		off := p.win.Frontier()
		c := commitAt{off: off, n: p.restart.At(off)}
		if p.dead || c.off < 0 || (!force && c == p.committedAt) {
			return
		}
		if out == nil {
			out = make(commitSet)
		}
		out[tp{p.topic, p.id}] = c
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

// commit commits set synchronously and records what was committed.
func (m *member) commit(ctx context.Context, set commitSet) {
	if len(set) == 0 {
		return
	}
	offsets := set.epochOffsets()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cctx = kgo.PreCommitFnContext(cctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			rt := &req.Topics[i]
			for j := range rt.Partitions {
				rp := &rt.Partitions[j]
				if c, ok := set[tp{rt.Topic, rp.Partition}]; ok && c.n > 0 {
					md := c.metadata()
					rp.Metadata = &md
				}
			}
		}
		return nil
	})
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
			p.committedAt = set[k]
		}
	}
	s.mu.Unlock()
}

// onFetched reads, after partitions were assigned, the delivery counts a
// previous member left in the commit metadata.
func (m *member) onFetched(_ context.Context, _ *kgo.Client, resp *kmsg.OffsetFetchResponse) error {
	s := m.g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	note := func(topic string, id int32, md *string) {
		if md == nil {
			return
		}
		if off, n, ok := parseMetadata(*md); ok {
			if p := m.parts[tp{topic, id}]; p != nil {
				p.restart.Left(off, n)
			}
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			note(t.Topic, p.Partition, p.Metadata)
		}
	}
	for _, g := range resp.Groups {
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				note(t.Topic, p.Partition, p.Metadata)
			}
		}
	}
	return nil
}

// fetchLoop polls while the ready queue has room and turns records into
// entries. Each poll takes everything the client buffered, so that the
// client sends its next fetch request at once and the broker's answer is
// under way while the application works through this one: the ready
// queue holds up to one fetch beyond MaxPollRecords, and the client
// buffers at most one more.
func (m *member) fetchLoop() {
	s := m.g.s
	fails := 0
	for s.waitSpace(m.ctx) {
		pctx, cancel := context.WithCancel(m.ctx)
		s.mu.Lock()
		m.pollCancel = cancel
		s.mu.Unlock()
		fs := m.cl.PollFetches(pctx)
		cancel()
		if m.ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		n := m.admit(fs) // before any seek: these records were fetched before it
		m.runSeeks()
		if fails = failed(fails, n == 0 && len(fs.Errors()) > 0); fails > 0 && clock.Sleep(m.ctx, clock.Real{}, retryBackoff.Delay(fails), nil) != nil {
			return
		}
	}
}

// admit turns polled records into entries and returns how many, letting
// receivers in every MaxPollRecords records. The first record of a
// partition after it was assigned is where a crash of this handle would
// make the next one restart: it starts with the deliveries a previous
// member counted in the commit metadata, and its own are committed before
// it is handed out (see takeLocked), so that crashes count toward
// max_attempts.
func (m *member) admit(fs kgo.Fetches) int {
	s := m.g.s
	now := time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteFetchErrorsLocked(fs)
	n := 0
	slab := make([]entry, fs.NumRecords()) // one allocation for the poll's entries
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		var p *partition
		for i, r := range fp.Records {
			if i == 0 || n%s.o.MaxPollRecords == 0 {
				if n > 0 {
					s.wakeLocked() // receivers take what is ready
					s.mu.Unlock()
					s.mu.Lock()
				}
				if p = m.parts[tp{fp.Topic, fp.Partition}]; p == nil || p.dead || p.revoking || m.closing {
					return
				}
			}
			md := readMeta(r)
			e := &slab[n]
			*e = entry{rec: r, off: r.Offset, part: p, base: md.delivered, attempt: md.delivered + 1, due: md.due, heapIdx: -1}
			e.attempt += p.restart.Read(r.Offset)
			p.win.Push(e)
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
	notify.WaitTimeout(&m.copies, 10*time.Second)
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
