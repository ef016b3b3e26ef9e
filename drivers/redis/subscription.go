package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq/driver"
)

// SubscriptionOptions configures a subscription handle; nil means the
// defaults. Zero fields take the settings an Admin stored with the
// subscription, else the defaults.
type SubscriptionOptions struct {
	// Prefix starts every key the driver uses (DefaultPrefix when "").
	Prefix string
	// Lease is how long a delivery stays leased (DefaultLease when 0 and
	// none is stored).
	Lease time.Duration
	// MaxAttempts dead-letters a message after that many deliveries; -1
	// means never, 0 the stored setting (else never).
	MaxAttempts int
	// DeadLetter names the topic dead letters go to.
	DeadLetter string
	// Ordered delivers messages with the same Key in send order, one in
	// flight per key (also when the Admin stored the subscription as
	// ordered).
	Ordered bool
	// Consumer names this handle in the consumer group (XINFO CONSUMERS);
	// "" means host-pid-random.
	Consumer string
	// Logger receives the driver's warnings; nil means slog.Default().
	Logger *slog.Logger
}

// Subscription is the driver's subscription handle: a consumer of the
// topic stream's consumer group.
type Subscription struct {
	c        *goredis.Client
	k        keys
	name     string
	consumer string
	lease    time.Duration
	maxAtt   int
	dlq      string // dead-letter stream key, "" when none
	dlqTopic string
	ordered  bool
	retry    string
	delay    string
	owners   string
	park     string
	log      *slog.Logger
	reaper   *loopRef
	mover    *loopRef // the subscription's delay set (nacks)
	tmover   *loopRef // the topic's delay set (delayed sends)
	release  func()

	// short holds the stream IDs of deliveries whose lease Extend made
	// shorter than the subscription's: the reaper may take them before
	// their first lease ends, so their acks are checked (ackUnordered).
	shortMu sync.Mutex
	short   map[string]struct{}
	nshort  atomic.Int32

	blk    *goredis.Client // the blocking reads' own connections (blockingClient)
	mu     sync.Mutex
	free   []*bconn         // idle connections for blocking reads
	extra  []driver.Message // read beyond what a ReceiveBatch asked for
	closed atomic.Bool
}

// bconn is a connection for blocking reads, with its CLIENT ID so that a
// canceled read can be ended with CLIENT UNBLOCK.
type bconn struct {
	c  *goredis.Conn
	id int64
}

var (
	_ driver.Subscription = (*Subscription)(nil)
	_ driver.Seeker       = (*Subscription)(nil)
	_ driver.DeadLetterer = (*Subscription)(nil)
	_ driver.Backlogger   = (*Subscription)(nil)
)

// OpenSubscription opens a handle on subscription sub of topic through c,
// which the caller keeps owning (Close does not close it). The
// subscription (consumer group) must exist: create it with an Admin.
func OpenSubscription(ctx context.Context, c *goredis.Client, topic, sub string, opts *SubscriptionOptions) (*Subscription, error) {
	if c == nil {
		return nil, optionError("nil client")
	}
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	if err := checkName("subscription", sub); err != nil {
		return nil, err
	}
	s, err := openSubscription(ctx, c, topic, sub, opts)
	if err != nil {
		return nil, coded(err)
	}
	return s, nil
}

func openSubscription(ctx context.Context, c *goredis.Client, topic, sub string, opts *SubscriptionOptions) (*Subscription, error) {
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	if o.Lease < 0 || o.MaxAttempts < -1 {
		return nil, optionError("Lease must not be negative and MaxAttempts not below -1")
	}
	if o.DeadLetter != "" {
		if err := checkName("dead-letter topic", o.DeadLetter); err != nil {
			return nil, err
		}
	}
	if o.Prefix != "" {
		if err := checkName("prefix", o.Prefix); err != nil {
			return nil, err
		}
	}
	k := topicKeys(o.Prefix, topic)
	meta, err := readSubscription(ctx, c, k, sub)
	if err != nil {
		return nil, err
	}
	s := &Subscription{c: c, k: k, name: sub, log: logger(o.Logger)}
	s.lease = firstNonZero(o.Lease, meta.Lease, DefaultLease)
	switch {
	case o.MaxAttempts > 0:
		s.maxAtt = o.MaxAttempts
	case o.MaxAttempts == 0:
		s.maxAtt = meta.MaxAttempts
	}
	s.dlqTopic = o.DeadLetter
	if s.dlqTopic == "" {
		s.dlqTopic = meta.DeadLetterTopic
	}
	if s.dlqTopic != "" {
		s.dlq = topicKeys(o.Prefix, s.dlqTopic).stream
	}
	if s.maxAtt > 0 && s.dlq == "" {
		return nil, optionError("subscription " + strconv.Quote(sub) + ": max_attempts needs a dead_letter topic (Redis has nowhere to move the message)")
	}
	s.ordered = o.Ordered || meta.Ordered
	s.blk = blockingClient(c)
	s.consumer = o.Consumer
	if s.consumer == "" {
		s.consumer = consumerName()
	}
	s.retry, s.delay = k.retry(sub), k.subDelay(sub)
	if s.ordered {
		s.owners, s.park = k.owners(sub), k.park(sub)
	}
	s.reaper = startReaper(c, reaperConfig{
		main: k.stream, retry: s.retry, dlq: s.dlq, owners: s.owners, park: s.park,
		group: sub, source: s.source(), lease: s.lease, maxAttempts: s.maxAtt,
		hasDLQ: s.dlq != "", ordered: s.ordered, log: s.log, interval: reapInterval(s.lease),
	})
	s.mover = startMover(c, s.delay, s.retry, s.log)
	s.tmover = startMover(c, k.delay, k.stream, s.log)
	return s, nil
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

// readSubscription checks that the stream and the group exist and returns
// the settings an Admin stored with the subscription.
func readSubscription(ctx context.Context, c *goredis.Client, k keys, sub string) (driver.SubscriptionConfig, error) {
	var cfg driver.SubscriptionConfig
	var meta *goredis.MapStringStringCmd
	var groups *goredis.XInfoGroupsCmd
	cmds, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		meta = p.HGetAll(ctx, k.meta(sub))
		groups = p.XInfoGroups(ctx, k.stream)
		return nil
	})
	if err := pipelineError(err, cmds); err != nil {
		return cfg, fmt.Errorf("redis: subscription %s: %w", sub, coded(err))
	}
	gs, err := groups.Result()
	if err != nil {
		if goredis.HasErrorPrefix(err, "no such key") || goredis.HasErrorPrefix(err, "ERR no such key") {
			return cfg, notFound("topic " + strconv.Quote(k.topic) + " does not exist (no stream " + k.stream + ")")
		}
		return cfg, fmt.Errorf("redis: subscription %s: %w", sub, err)
	}
	found := false
	for _, g := range gs {
		if g.Name == sub {
			found = true
		}
	}
	if !found {
		return cfg, notFound("subscription " + strconv.Quote(sub) + " of topic " + strconv.Quote(k.topic) + " does not exist (no consumer group " + sub + " on " + k.stream + "; create it with an admin)")
	}
	m, err := meta.Result()
	if err != nil {
		return cfg, fmt.Errorf("redis: subscription %s: %w", sub, err)
	}
	// Every read covers the retry stream too: make sure it has the group
	// (a group created without the Admin, say with redis-cli, has none).
	if err := c.XGroupCreateMkStream(ctx, k.retry(sub), sub, "0").Err(); err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
		return cfg, fmt.Errorf("redis: subscription %s: creating its retry stream: %w", sub, err)
	}
	if v := m["lease"]; v != "" {
		cfg.Lease, _ = time.ParseDuration(v)
	}
	if v := m["max_attempts"]; v != "" {
		cfg.MaxAttempts, _ = strconv.Atoi(v)
	}
	cfg.DeadLetterTopic = m["dead_letter"]
	cfg.Ordered = m["ordered"] == "true"
	return cfg, nil
}

var consumerSeq atomic.Int64

func consumerName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(consumerSeq.Add(1), 10) + "-" + hex.EncodeToString(b[:])
}

// source is the dead-letter metadata value naming the subscription.
func (s *Subscription) source() string { return s.k.topic + "/" + s.name }

// Capabilities implements driver.Subscription.
func (s *Subscription) Capabilities() driver.Capabilities { return capabilities(s.lease) }

// Info implements driver.Subscription.
func (s *Subscription) Info() driver.SubscriptionInfo {
	return driver.SubscriptionInfo{Name: s.source(), Lease: s.lease, MaxAttempts: s.maxAtt, Ordered: s.ordered, HasDeadLetter: s.dlq != ""}
}

// Lost returns how many pending (unacked) entries of this subscription
// the reaper of this process found trimmed from the stream (MAXLEN or
// MINID) before they were settled: messages lost to trimming. Each is also
// logged.
func (s *Subscription) Lost() int64 { return s.reaper.l.lost.Load() }

// epoch is the origin of the read times in AckIDs (monotonic).
var epoch = time.Now()

// ackID packs a delivery: Ref points to the stream ID (in a slice of the
// read's IDs: boxing a string in Ref would cost an allocation per
// delivery, a pointer costs none); Seq holds whether the entry is in the
// retry stream (bit 0), the attempt (bits 1-20) and the time it was read,
// in ms since epoch (bits 21-63).
func ackID(id *string, attempt int, retry bool, readMs int64) driver.AckID {
	seq := uint64(min(attempt, 1<<20-1))<<1 | uint64(readMs)<<21
	if retry {
		seq |= 1
	}
	return driver.AckID{Ref: id, Seq: seq}
}

func unpackID(a driver.AckID) (id string, attempt int, retry bool, ok bool) {
	p, ok := a.Ref.(*string)
	if !ok || p == nil {
		return "", 0, false, false
	}
	return *p, int(a.Seq >> 1 & (1<<20 - 1)), a.Seq&1 == 1, true
}

// sinceEpoch returns the time since epoch in ms.
func sinceEpoch() int64 { return time.Since(epoch).Milliseconds() }

// fresh reports whether delivery a was read less than its first lease
// ago, less a margin: then the reaper cannot have reclaimed it (it
// reclaims entries idle for a lease, and the delivery began after the
// time the AckID holds, taken before the read was sent).
func (s *Subscription) fresh(a driver.AckID, now int64) bool {
	read := int64(a.Seq >> 21)
	margin := s.lease/10 + 5*time.Millisecond
	return now-read < (s.lease - margin).Milliseconds()
}

// ReceiveBatch implements driver.Subscription with one XREADGROUP over
// the topic stream and the subscription's retry stream, blocking until
// ctx ends; a canceled read is ended with CLIENT UNBLOCK.
func (s *Subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if n := s.takeExtra(dst); n > 0 {
		return n, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var block time.Duration
	if dl, ok := ctx.Deadline(); ok {
		// Redis blocks in whole milliseconds: round up, so that the read
		// does not end before ctx does.
		block = (time.Until(dl) + 2*time.Millisecond).Truncate(time.Millisecond)
		if block < 2*time.Millisecond {
			<-ctx.Done()
			return 0, ctx.Err()
		}
	}
	bc, err := s.conn(ctx)
	if err != nil {
		return 0, err
	}
	var done atomic.Bool
	stop := context.AfterFunc(ctx, func() { s.unblock(bc.id, &done) })
	// The entries read are delivered after this instant: AckIDs carry it,
	// so that an ack can tell that their first lease has not ended.
	readMs := sinceEpoch()
	res, err := bc.c.XReadGroup(context.WithoutCancel(ctx), &goredis.XReadGroupArgs{
		Group:    s.name,
		Consumer: s.consumer,
		Streams:  []string{s.k.stream, s.retry, ">", ">"},
		Count:    int64(len(dst)),
		Block:    block,
	}).Result()
	done.Store(true)
	stop()
	if err != nil && err != goredis.Nil {
		_ = bc.c.Close()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	}
	s.putConn(bc)
	if err == goredis.Nil || len(res) == 0 {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, nil
	}
	// A blocking read returns as soon as an entry arrives, so the entries
	// were delivered (their lease began) just now: the deadline is a lease
	// from now, less a margin for the reply's way back.
	deadline := time.Now().Add(s.lease - time.Millisecond)
	// Bodies of one read share allocations of up to slabBodies bytes: a
	// few allocations per read instead of one per message.
	total, count := 0, 0
	for i := range res {
		count += len(res[i].Messages)
		for j := range res[i].Messages {
			b, _ := res[i].Messages[j].Values["b"].(string)
			total += len(b)
		}
	}
	slab := bodySlab{rest: total}
	ids := make([]string, count)
	var all []driver.Message
	n := 0
	for i := range res {
		retry := res[i].Stream == s.retry
		for j := range res[i].Messages {
			x := &res[i].Messages[j]
			ids[n] = x.ID
			var m *driver.Message
			if n < len(dst) {
				m = &dst[n]
			} else {
				all = append(all, driver.Message{})
				m = &all[len(all)-1]
			}
			fill(m, x, &ids[n], retry, deadline, readMs, &slab)
			n++
		}
	}
	if s.ordered {
		return s.admit(ctx, dst, n, all)
	}
	if len(all) > 0 {
		s.mu.Lock()
		s.extra = append(s.extra, all...)
		s.mu.Unlock()
		n = len(dst)
	}
	return n, nil
}

// slabBodies bounds the body bytes of one read that share an allocation
// (a Delivery kept after it was settled keeps its slab alive).
const slabBodies = 32 << 10

// bodySlab hands out the bodies of one read from shared allocations
// (slabs) of at most slabBodies bytes; a body larger than a quarter of
// that gets an allocation of its own.
type bodySlab struct {
	buf  []byte // what is left of the current slab
	rest int    // body bytes of the read not yet copied
}

// copy returns a copy of body.
func (s *bodySlab) copy(body string) []byte {
	n := len(body)
	s.rest -= n
	if n > cap(s.buf) {
		if n > slabBodies/4 {
			return []byte(body)
		}
		s.buf = make([]byte, 0, min(s.rest+n, slabBodies))
	}
	b := append(s.buf[:0:n], body...)
	s.buf = s.buf[n:n:cap(s.buf)]
	return b
}

// fill makes m the delivery of stream entry x, whose ID id holds,
// copying its body through slab.
func fill(m *driver.Message, x *goredis.XMessage, id *string, retry bool, deadline time.Time, readMs int64, slab *bodySlab) {
	*m = driver.Message{ID: x.ID, Deadline: deadline, Native: x}
	made, published := 0, ""
	// Most entries have a body and nothing else: one lookup instead of a
	// map iteration.
	if sv, ok := x.Values["b"].(string); ok && len(x.Values) == 1 {
		m.Body = slab.copy(sv)
	} else {
		readFields(m, x, slab, &made, &published)
	}
	if m.Body == nil {
		m.Body = []byte{}
	}
	if published != "" {
		ms, _ := strconv.ParseInt(published, 10, 64)
		m.PublishedAt = time.UnixMilli(ms)
	} else {
		m.PublishedAt = idTime(x.ID)
	}
	m.Attempt = made + 1
	m.AckID = ackID(id, m.Attempt, retry, readMs)
}

// readFields reads every field of x into m: b, k, d, i, t, n and a.NAME
// attributes, in one pass.
func readFields(m *driver.Message, x *goredis.XMessage, slab *bodySlab, made *int, published *string) {
	for k, val := range x.Values {
		sv, _ := val.(string)
		switch k {
		case "b":
			m.Body = slab.copy(sv)
		case "k":
			m.Key = sv
		case "d":
			m.DedupID = sv
		case "i":
			m.ID = sv
		case "t":
			*published = sv
		case "n":
			*made, _ = strconv.Atoi(sv)
		default:
			if len(k) > 2 && k[0] == 'a' && k[1] == '.' {
				if m.Attributes == nil {
					m.Attributes = make(map[string]string, len(x.Values)-1)
				}
				m.Attributes[k[2:]] = sv
			}
		}
	}
}

// admit filters the n read deliveries (dst, then more) of an ordered
// subscription through admitScript: a delivery whose key another message
// holds is parked behind it.
func (s *Subscription) admit(ctx context.Context, dst []driver.Message, n int, more []driver.Message) (int, error) {
	all := make([]driver.Message, 0, n)
	all = append(all, dst[:min(n, len(dst))]...)
	all = append(all, more...)
	args := []any{s.name}
	var idx []int
	for i := range all {
		if all[i].Key == "" {
			continue
		}
		id, _, retry, _ := unpackID(all[i].AckID)
		args = append(args, id, flag(retry), all[i].Key, all[i].ID)
		idx = append(idx, i)
	}
	keep := make([]bool, len(all))
	for i := range keep {
		keep[i] = true
	}
	if len(idx) > 0 {
		v, err := admitScript.Run(context.WithoutCancel(ctx), s.c, []string{s.k.stream, s.retry, s.owners, s.park}, args...).Int64Slice()
		if err != nil {
			// Not admitted: the entries stay pending and the reaper
			// redelivers them after the lease.
			return 0, err
		}
		for j, i := range idx {
			keep[i] = j < len(v) && v[j] == 1
		}
	}
	k := 0
	var extra []driver.Message
	for i := range all {
		if !keep[i] {
			continue
		}
		if k < len(dst) {
			dst[k] = all[i]
			k++
		} else {
			extra = append(extra, all[i])
		}
	}
	clear(dst[k:min(n, len(dst))])
	if len(extra) > 0 {
		s.mu.Lock()
		s.extra = append(s.extra, extra...)
		s.mu.Unlock()
	}
	return k, nil
}

// takeExtra moves deliveries read beyond an earlier call's dst to dst,
// dropping those whose lease ended (the reaper redelivers them).
func (s *Subscription) takeExtra(dst []driver.Message) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.extra) == 0 {
		return 0
	}
	now := time.Now()
	n, i := 0, 0
	for ; i < len(s.extra) && n < len(dst); i++ {
		if now.Before(s.extra[i].Deadline) {
			dst[n] = s.extra[i]
			n++
		}
	}
	s.extra = append(s.extra[:0], s.extra[i:]...)
	return n
}

// conn returns an idle blocking-read connection, or a new one.
func (s *Subscription) conn(ctx context.Context) (*bconn, error) {
	s.mu.Lock()
	if k := len(s.free); k > 0 {
		bc := s.free[k-1]
		s.free = s.free[:k-1]
		s.mu.Unlock()
		return bc, nil
	}
	s.mu.Unlock()
	c := s.blk.Conn()
	id, err := c.ClientID(ctx).Result()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &bconn{c: c, id: id}, nil
}

// maxBlockingReads bounds the blocking reads of one handle waiting in
// Redis at once; more wait for a connection (up to the pool timeout).
const maxBlockingReads = 1024

// blockingClient returns a client with c's settings (server, credentials,
// TLS, timeouts) whose connections serve only this handle's blocking
// reads. A blocking XREADGROUP holds its connection for as long as it
// waits: taken from c's pool, which every send, ack and loop of the
// process's handles shares (10 connections per CPU by default), a few
// dozen waiting receives exhausted it and every other command failed with
// a pool timeout. Its connections are dialed on demand and closed with the
// handle.
func blockingClient(c *goredis.Client) *goredis.Client {
	o := *c.Options()
	o.PoolSize = maxBlockingReads
	o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns = 0, 0, 0
	o.PipelinePoolSize = -1
	return goredis.NewClient(&o)
}

func (s *Subscription) putConn(bc *bconn) {
	s.mu.Lock()
	if len(s.free) < 8 && !s.closed.Load() {
		s.free = append(s.free, bc)
		bc = nil
	}
	s.mu.Unlock()
	if bc != nil {
		_ = bc.c.Close()
	}
}

// unblock ends the blocking read of connection id: CLIENT UNBLOCK, tried
// again while the read has not yet reached the server.
func (s *Subscription) unblock(id int64, done *atomic.Bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wait := 100 * time.Microsecond
	for !done.Load() && ctx.Err() == nil {
		n, err := s.c.ClientUnblock(ctx, id).Result()
		if n == 1 || errors.Is(err, goredis.ErrClosed) {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// Ack implements driver.Subscription: XACK (with the release of the key
// on an ordered subscription) in one script, which reports the deliveries
// that were no longer pending.
func (s *Subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(ids) == 0 {
		return nil
	}
	if !s.ordered {
		return s.ackUnordered(ctx, ids)
	}
	return s.ackScripted(ctx, ids)
}

// ackUnordered acks deliveries still in their first lease with plain
// XACKs (what a raw client does), the others through ackScript, which
// checks that each is still pending for this consumer.
func (s *Subscription) ackUnordered(ctx context.Context, ids []driver.AckID) error {
	now := sinceEpoch()
	main := make([]string, 0, len(ids))
	var retry []string
	var late []int
	var short map[string]struct{}
	if s.nshort.Load() > 0 {
		s.shortMu.Lock()
		defer s.shortMu.Unlock()
		short = s.short
	}
	for i, a := range ids {
		id, _, r, ok := unpackID(a)
		_, shortened := short[id]
		if shortened {
			delete(short, id)
			s.nshort.Add(-1)
		}
		switch {
		case !ok || shortened || !s.fresh(a, now):
			late = append(late, i)
		case r:
			retry = append(retry, id)
		default:
			main = append(main, id)
		}
	}
	if len(late) == len(ids) {
		return s.ackScripted(ctx, ids)
	}
	var acked int64
	var err error
	switch {
	case len(retry) == 0:
		acked, err = s.c.XAck(ctx, s.k.stream, s.name, main...).Result()
	default:
		var am, ar *goredis.IntCmd
		_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			if len(main) > 0 {
				am = p.XAck(ctx, s.k.stream, s.name, main...)
			}
			ar = p.XAck(ctx, s.retry, s.name, retry...)
			p.XDel(ctx, s.retry, retry...)
			return nil
		})
		if am != nil {
			acked = am.Val()
		}
		acked += ar.Val()
	}
	if err != nil {
		return err
	}
	if int(acked) < len(main)+len(retry) {
		// Not expected: these were within their first lease. Something
		// else (an admin, a Seek, a duplicate ID) settled some of them.
		s.log.Warn("some acked deliveries were no longer pending", "stream", s.k.stream, "group", s.name, "acked", acked, "of", len(main)+len(retry))
	}
	if len(late) == 0 {
		return nil
	}
	sub := make([]driver.AckID, len(late))
	for j, i := range late {
		sub[j] = ids[i]
	}
	return driver.SubBatchResult(len(ids), late, s.ackScripted(ctx, sub))
}

// ackScripted acks deliveries through ackScript.
func (s *Subscription) ackScripted(ctx context.Context, ids []driver.AckID) error {
	args := make([]any, 7, 7+2*len(ids))
	args[0], args[1], args[2] = s.name, flag(s.ordered), s.consumer
	var lo, hi [2]streamID
	var seen [2]bool
	bad := make([]bool, len(ids))
	for i, a := range ids {
		id, _, retry, ok := unpackID(a)
		sid, valid := parseStreamID(id)
		if !ok || !valid {
			bad[i] = true
			id, retry = "0-0", false
		}
		w := 0
		if retry {
			w = 1
		}
		if !seen[w] || sid.less(lo[w]) {
			lo[w] = sid
		}
		if !seen[w] || hi[w].less(sid) {
			hi[w] = sid
		}
		seen[w] = true
		args = append(args, id, flag(retry))
	}
	args[3], args[4], args[5], args[6] = lo[0].String(), hi[0].String(), lo[1].String(), hi[1].String()
	owners, park := s.owners, s.park
	if !s.ordered {
		owners, park = s.k.stream, s.k.stream
	}
	v, err := ackScript.Run(ctx, s.c, []string{s.k.stream, s.retry, owners, park}, args...).Int64Slice()
	if err != nil {
		return err
	}
	return itemErrors(len(ids), func(i int) error {
		if bad[i] || i >= len(v) || v[i] == 0 {
			return driver.ErrLeaseExpired()
		}
		return nil
	})
}

// streamID is a parsed stream entry ID, MS-SEQ.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}, err1 == nil && err2 == nil
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

func (a streamID) String() string {
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}

// itemErrors returns a *BatchError of the items whose f is not nil, or
// nil.
func itemErrors(n int, f func(i int) error) error {
	var errs []error
	for i := range n {
		errs = driver.SetItemError(errs, n, i, f(i))
	}
	return driver.BatchResult(errs)
}

// Nack implements driver.Subscription: the entry is acked and its copy,
// carrying the attempts made, goes to the retry stream at once (delay 0)
// or to the delay set, from which the mover puts it into the retry stream
// when due; at max attempts it goes to the dead-letter stream. All in one
// script.
func (s *Subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.settle(ctx, ids, delay, nil, 0)
}

// settle runs settleScript; reasons (nil for a nack) dead-letter.
// uncount is subtracted from each delivery's attempt (1 to hand back
// deliveries nobody saw).
func (s *Subscription) settle(ctx context.Context, ids []driver.AckID, delay time.Duration, reasons []string, uncount int) error {
	if len(ids) == 0 {
		return nil
	}
	dlq := s.dlq
	if dlq == "" {
		dlq = s.k.stream
	}
	owners, park := s.owners, s.park
	if !s.ordered {
		owners, park = s.k.stream, s.k.stream
	}
	ms := int64(0)
	if delay > 0 {
		ms = max(delay.Milliseconds(), 1)
	}
	args := make([]any, 0, 6+4*len(ids))
	args = append(args, s.name, ms, s.maxAtt, flag(s.dlq != ""), s.source(), flag(s.ordered))
	bad := make([]bool, len(ids))
	for i, a := range ids {
		id, attempt, retry, ok := unpackID(a)
		if !ok {
			bad[i] = true
			id = "0-0"
		}
		reason := ""
		if reasons != nil {
			reason = reasons[i]
		}
		args = append(args, id, flag(retry), max(attempt-uncount, 0), reason)
	}
	if s.nshort.Load() > 0 {
		s.shortMu.Lock()
		for _, a := range ids {
			if id, _, _, ok := unpackID(a); ok {
				if _, in := s.short[id]; in {
					delete(s.short, id)
					s.nshort.Add(-1)
				}
			}
		}
		s.shortMu.Unlock()
	}
	v, err := settleScript.Run(ctx, s.c, []string{s.k.stream, s.retry, s.delay, dlq, owners, park}, args...).Int64Slice()
	if err != nil {
		return err
	}
	return itemErrors(len(ids), func(i int) error {
		switch {
		case bad[i] || i >= len(v) || v[i] == 0:
			return driver.ErrLeaseExpired()
		case v[i] == 3:
			s.reaper.l.lost.Add(1)
			s.log.Error("a pending message was trimmed from the stream before it was settled: it is lost (raise maxlen or retention)",
				"stream", s.k.stream, "group", s.name, "lost_total", s.reaper.l.lost.Load())
		}
		return nil
	})
}

// DeadLetter implements driver.DeadLetterer: XADD to the dead-letter
// stream with the portmq metadata and XACK, in one script.
func (s *Subscription) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	if s.closed.Load() {
		return errClosed
	}
	if s.dlq == "" {
		return &driver.Error{Code: driver.Unsupported, Msg: "redis: subscription " + s.source() + " has no dead-letter topic (set dead_letter)", Err: errors.ErrUnsupported}
	}
	ids := make([]driver.AckID, len(items))
	reasons := make([]string, len(items))
	for i, it := range items {
		ids[i], reasons[i] = it.AckID, it.Reason
		if reasons[i] == "" {
			reasons[i] = "dead-lettered"
		}
	}
	return s.settle(ctx, ids, 0, reasons, 0)
}

// Extend implements driver.Extender: XCLAIM to this consumer with
// JUSTID (no delivery counted) and IDLE set so that the entry's lease ends
// lease from now (at most the subscription's lease: Redis measures a lease
// as the time since the last delivery).
func (s *Subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(ids) == 0 {
		return nil
	}
	idle := max(s.lease-lease, 0).Milliseconds()
	var main, retry []any
	for _, a := range ids {
		id, _, r, ok := unpackID(a)
		if !ok {
			continue
		}
		if r {
			retry = append(retry, id)
		} else {
			main = append(main, id)
		}
	}
	claimed := map[string]bool{}
	for _, x := range []struct {
		key string
		ids []any
	}{{s.k.stream, main}, {s.retry, retry}} {
		if len(x.ids) == 0 {
			continue
		}
		args := append([]any{"XCLAIM", x.key, s.name, s.consumer, 0}, x.ids...)
		args = append(args, "IDLE", idle, "JUSTID")
		got, err := s.c.Do(ctx, args...).StringSlice()
		if err != nil {
			return err
		}
		for _, id := range got {
			claimed[id] = true
		}
	}
	if idle > 0 && len(claimed) > 0 {
		s.shortMu.Lock()
		if s.short == nil {
			s.short = make(map[string]struct{})
		}
		for id := range claimed {
			if _, ok := s.short[id]; !ok {
				s.short[id] = struct{}{}
				s.nshort.Add(1)
			}
		}
		s.shortMu.Unlock()
	}
	return itemErrors(len(ids), func(i int) error {
		if id, _, _, ok := unpackID(ids[i]); !ok || !claimed[id] {
			return driver.ErrLeaseExpired()
		}
		return nil
	})
}

// Seek implements driver.Seeker: XGROUP SETID to just before t, so that
// every entry of the topic stream added at or after t is delivered again
// (attempts start over; entries trimmed away are gone).
func (s *Subscription) Seek(ctx context.Context, t time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	id := "0-0"
	if ms := t.UnixMilli(); ms > 0 {
		id = strconv.FormatInt(ms-1, 10) + "-18446744073709551615"
	}
	return s.c.XGroupSetID(ctx, s.k.stream, s.name, id).Err()
}

// Backlog implements driver.Backlogger: the entries of the topic stream
// not yet delivered to the group (XINFO GROUPS lag; where Redis cannot
// tell it, the stream's length less what the group has read), those of
// the retry stream (its length less its pending entries: settled ones are
// deleted), and the nacked messages waiting in the delay set. Deliveries
// in flight are not counted.
func (s *Subscription) Backlog(ctx context.Context) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	var gm, gr *goredis.XInfoGroupsCmd
	var lm, lr, zd *goredis.IntCmd
	_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		gm, lm = p.XInfoGroups(ctx, s.k.stream), p.XLen(ctx, s.k.stream)
		gr, lr = p.XInfoGroups(ctx, s.retry), p.XLen(ctx, s.retry)
		zd = p.ZCard(ctx, s.delay)
		return nil
	})
	if err != nil {
		return 0, err
	}
	group := func(g *goredis.XInfoGroupsCmd) (goredis.XInfoGroup, bool) {
		for _, x := range g.Val() {
			if x.Name == s.name {
				return x, true
			}
		}
		return goredis.XInfoGroup{}, false
	}
	var n int64
	if g, ok := group(gm); ok {
		if g.Lag >= 0 {
			n += g.Lag
		} else {
			n += max(lm.Val()-g.EntriesRead, 0)
		}
	}
	if g, ok := group(gr); ok {
		// Settled entries are deleted from the retry stream: what is left
		// waits or is in flight.
		n += max(lr.Val()-g.Pending, 0)
	}
	return n + zd.Val(), nil
}

// As implements driver.Common: *goredis.Client, goredis.UniversalClient
// and *Subscription (for Lost).
func (s *Subscription) As(i any) bool {
	if p, ok := i.(**Subscription); ok {
		*p = s
		return true
	}
	return asClient(s.c, i)
}

// ErrorAs implements driver.Common.
func (s *Subscription) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (s *Subscription) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common: it hands deliveries read ahead back
// (without counting an attempt), stops this handle's share of the loops
// and removes its consumer from the group when it holds nothing.
func (s *Subscription) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	extra, free := s.extra, s.free
	s.extra, s.free = nil, nil
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if len(extra) > 0 {
		ids := make([]driver.AckID, len(extra))
		for i := range extra {
			ids[i] = extra[i].AckID
		}
		_ = s.settle(ctx, ids, 0, nil, 1)
	}
	for _, bc := range free {
		_ = bc.c.Close()
	}
	_ = s.blk.Close()
	// What this consumer still holds (deliveries the application did not
	// settle) goes back at once, each delivery counting as an attempt.
	dlq, owners, park := s.dlq, s.owners, s.park
	if dlq == "" {
		dlq = s.k.stream
	}
	if !s.ordered {
		owners, park = s.k.stream, s.k.stream
	}
	if err := handBackScript.Run(ctx, s.c, []string{s.k.stream, s.retry, dlq, owners, park},
		s.name, s.consumer, "", "", "", s.maxAtt, flag(s.dlq != ""), s.source(), "", flag(s.ordered)).Err(); err != nil {
		s.log.Warn("handing back unsettled deliveries failed: they come back when their lease ends", "stream", s.k.stream, "group", s.name, "err", err)
	}
	_ = closeConsumerScript.Run(ctx, s.c, []string{s.k.stream, s.retry}, s.name, s.consumer).Err()
	s.reaper.stop()
	s.mover.stop()
	s.tmover.stop()
	if s.release != nil {
		s.release()
	}
	return nil
}
