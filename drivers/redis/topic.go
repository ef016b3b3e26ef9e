package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq/driver"
)

// TopicOptions configures a topic handle; nil means the defaults.
type TopicOptions struct {
	// Prefix starts every key the driver uses (DefaultPrefix when "").
	Prefix string
	// DedupWindow, when not 0, drops a message whose DedupID was sent to
	// the topic within the window (SET NX PX and XADD in one script).
	DedupWindow time.Duration
	// MaxLen, when not 0, trims the stream to about MaxLen entries on
	// every send (XADD MAXLEN ~).
	MaxLen int64
	// Retention, when not 0, trims entries older than Retention on every
	// send (XADD MINID ~). At most one of MaxLen and Retention may be set.
	Retention time.Duration
	// Logger receives the driver's warnings; nil means slog.Default().
	Logger *slog.Logger
}

// keys names every key of one topic.
type keys struct {
	prefix, topic string
	stream        string // P:T
	delay         string // P:T:delay, delayed sends
}

func topicKeys(prefix, topic string) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := prefix + ":" + topic
	return keys{prefix: prefix, topic: topic, stream: s, delay: s + ":delay"}
}

func (k keys) dedup(id string) string  { return k.stream + ":dedup:" + id }
func (k keys) retry(sub string) string { return k.stream + ":retry:" + sub }
func (k keys) subDelay(sub string) string {
	return k.stream + ":delay:" + sub
}
func (k keys) meta(sub string) string   { return k.stream + ":sub:" + sub }
func (k keys) owners(sub string) string { return k.stream + ":owners:" + sub }
func (k keys) park(sub string) string   { return k.stream + ":park:" + sub + ":" }

// Topic is the driver's topic handle.
type Topic struct {
	c       *goredis.Client
	k       keys
	opts    TopicOptions
	mover   *loopRef // the topic's delay-set mover
	release func()   // lets go of a URL opener's shared client
	log     *slog.Logger

	mu     sync.RWMutex
	closed bool
}

var _ driver.Topic = (*Topic)(nil)

// OpenTopic opens a handle on topic through c, which the caller keeps
// owning (Close does not close it). The topic's stream must exist
// (create it with an Admin).
func OpenTopic(ctx context.Context, c *goredis.Client, topic string, opts *TopicOptions) (*Topic, error) {
	if c == nil {
		return nil, optionError("nil client")
	}
	if err := checkName("topic", topic); err != nil {
		return nil, err
	}
	t, err := openTopic(ctx, c, topic, opts)
	if err != nil {
		return nil, coded(err)
	}
	return t, nil
}

func openTopic(ctx context.Context, c *goredis.Client, topic string, opts *TopicOptions) (*Topic, error) {
	t := &Topic{c: c}
	if opts != nil {
		t.opts = *opts
	}
	if t.opts.MaxLen < 0 || t.opts.Retention < 0 || t.opts.DedupWindow < 0 {
		return nil, optionError("MaxLen, Retention and DedupWindow must not be negative")
	}
	if t.opts.MaxLen > 0 && t.opts.Retention > 0 {
		return nil, optionError("set at most one of maxlen and retention")
	}
	if t.opts.DedupWindow > 0 && t.opts.DedupWindow < time.Millisecond {
		return nil, optionError("the dedup window must be at least 1ms")
	}
	if t.opts.Prefix != "" {
		if err := checkName("prefix", t.opts.Prefix); err != nil {
			return nil, err
		}
	}
	t.k = topicKeys(t.opts.Prefix, topic)
	t.log = logger(t.opts.Logger)
	var exists *goredis.IntCmd
	var dedup *goredis.StringCmd
	cmds, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		exists = p.Exists(ctx, t.k.stream)
		dedup = p.HGet(ctx, t.k.stream+":meta", "dedup")
		// SendBatch pipelines EVALSHA of the send script: load it now
		// (a NOSCRIPT later, after a restart, is handled there).
		sendScript.Load(ctx, p)
		return nil
	})
	if err := pipelineError(err, cmds); err != nil {
		return nil, fmt.Errorf("redis: topic %s: %w", topic, coded(err))
	}
	n, err := exists.Result()
	if err != nil {
		return nil, fmt.Errorf("redis: topic %s: %w", topic, err)
	}
	if v, err := dedup.Result(); err == nil && t.opts.DedupWindow == 0 {
		t.opts.DedupWindow, _ = time.ParseDuration(v)
	}
	if n == 0 {
		return nil, notFound("topic " + strconv.Quote(topic) + " does not exist (no stream " + t.k.stream + "; create it with an admin)")
	}
	t.mover = startMover(c, t.k.delay, t.k.stream, t.log)
	return t, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With("driver", "redis")
}

// Capabilities implements driver.Topic.
func (t *Topic) Capabilities() driver.Capabilities { return capabilities(0) }

// capabilities returns the driver's capabilities; lease is the
// subscription's (0 for a topic).
func capabilities(lease time.Duration) driver.Capabilities {
	return driver.Capabilities{
		Lease:       driver.Driver,
		NackDelay:   driver.Driver,
		Attempts:    driver.Driver,
		DeadLetter:  driver.Driver,
		Dedup:       driver.Driver,
		Ordering:    driver.Driver,
		Delay:       driver.Driver,
		Seek:        driver.Native,
		MaxBodySize: DefaultMaxBodySize,
		MaxBatch:    1000,
		MaxLease:    lease,
		// Due times are the server's clock in whole milliseconds, so a
		// delay may end up to 1 ms early by the client's clock.
		Granularity: time.Millisecond,
	}
}

// fields returns m as the field-value list of a stream entry.
func fields(m *driver.Message) []any {
	return appendFields(make([]any, 0, numFields(m)), m)
}

// numFields is the length of m's field-value list.
func numFields(m *driver.Message) int {
	n := 2 + 2*len(m.Attributes)
	if m.Key != "" {
		n += 2
	}
	if m.DedupID != "" {
		n += 2
	}
	return n
}

// appendFields appends m's field-value list to f.
func appendFields(f []any, m *driver.Message) []any {
	f = append(f, "b", m.Body)
	if m.Key != "" {
		f = append(f, "k", m.Key)
	}
	if m.DedupID != "" {
		f = append(f, "d", m.DedupID)
	}
	for k, v := range m.Attributes {
		f = append(f, "a."+k, v)
	}
	return f
}

// SendBatch implements driver.Topic: one pipeline of XADDs (and of send
// scripts for messages with a DedupID on a dedup topic, or a Delay).
func (t *Topic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	cmds := make([]goredis.Cmder, len(msgs))
	// The XADDs' arguments and field-value lists of one batch share two
	// allocations (go-redis copies both into each command).
	xargs := make([]goredis.XAddArgs, len(msgs))
	nf := 0
	for i := range msgs {
		nf += numFields(&msgs[i])
	}
	vals := make([]any, 0, nf)
	delayed := false
	ran, err := t.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i := range msgs {
			m := &msgs[i]
			if m.Delay > 0 || (t.opts.DedupWindow > 0 && m.DedupID != "") {
				delayed = delayed || m.Delay > 0
				keys, args := t.scriptArgs(m)
				cmds[i] = sendScript.EvalSha(ctx, p, keys, args...)
				continue
			}
			start := len(vals)
			vals = appendFields(vals, m)
			a := &xargs[i]
			*a = goredis.XAddArgs{Stream: t.k.stream, Values: vals[start:len(vals):len(vals)]}
			switch {
			case t.opts.MaxLen > 0:
				a.MaxLen, a.Approx = t.opts.MaxLen, true
			case t.opts.Retention > 0:
				a.MinID, a.Approx = strconv.FormatInt(time.Now().Add(-t.opts.Retention).UnixMilli(), 10), true
			}
			cmds[i] = p.XAdd(ctx, a)
		}
		return nil
	})
	if err != nil && !goredis.HasErrorPrefix(err, "NOSCRIPT") && classify(err) == driver.Unavailable {
		return err // the connection failed: nothing may be assumed sent
	}
	if err := pipelineError(err, ran); err != nil {
		return err // the connection could not be set up: nothing was sent
	}
	var errs []error
	for i, c := range cmds {
		var err error
		switch c := c.(type) {
		case *goredis.StringCmd:
			msgs[i].ID, err = c.Result()
		case *goredis.Cmd:
			if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				keys, args := t.scriptArgs(&msgs[i])
				c = sendScript.Run(ctx, t.c, keys, args...)
			}
			msgs[i].ID, err = sendResult(c)
		}
		errs = driver.SetItemError(errs, len(msgs), i, err)
	}
	if delayed {
		t.mover.poke()
	}
	return driver.BatchResult(errs)
}

func (t *Topic) scriptArgs(m *driver.Message) ([]string, []any) {
	dk := t.k.stream
	window := int64(0)
	if t.opts.DedupWindow > 0 && m.DedupID != "" {
		dk, window = t.k.dedup(m.DedupID), t.opts.DedupWindow.Milliseconds()
	}
	gen := ""
	if m.Delay > 0 {
		gen = newID()
	}
	trim, trimv := "", int64(0)
	switch {
	case t.opts.MaxLen > 0:
		trim, trimv = "MAXLEN", t.opts.MaxLen
	case t.opts.Retention > 0:
		trim, trimv = "MINID", t.opts.Retention.Milliseconds()
	}
	delay := int64(0)
	if m.Delay > 0 {
		delay = max(m.Delay.Milliseconds(), 1)
	}
	args := append([]any{window, delay, gen, trim, trimv}, fields(m)...)
	return []string{t.k.stream, t.k.delay, dk}, args
}

func sendResult(c *goredis.Cmd) (string, error) {
	v, err := c.Slice()
	if err != nil {
		return "", err
	}
	if len(v) != 2 {
		return "", errors.New("redis: unexpected reply of the send script")
	}
	id, _ := v[1].(string)
	return id, nil
}

// newID returns an ID for a delayed message, which has no stream ID until
// it is due: "d-" and 16 random hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "d-" + hex.EncodeToString(b[:])
}

// As implements driver.Common: *goredis.Client.
func (t *Topic) As(i any) bool { return asClient(t.c, i) }

func asClient(c *goredis.Client, i any) bool {
	switch p := i.(type) {
	case **goredis.Client:
		*p = c
		return true
	case *goredis.UniversalClient:
		*p = c
		return true
	}
	return false
}

// ErrorAs implements driver.Common.
func (t *Topic) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (t *Topic) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common.
func (t *Topic) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.mu.Unlock()
	t.mover.stop()
	if t.release != nil {
		t.release()
	}
	return nil
}

// idTime returns the time of stream ID id ("MS-SEQ").
func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

// pipelineError returns err when a pipeline failed as a whole rather than
// by the error of one of its commands. go-redis reports a connection it
// could not set up (AUTH or HELLO refused after a password change, SELECT
// of a database the server does not have) as Pipelined's error while every
// queued command keeps a nil error and a zero value, which reads as a
// success with an empty result: an XADD that never ran would look sent.
// When err is a command's own error, the commands' results say which
// failed, and pipelineError returns nil.
func pipelineError(err error, cmds []goredis.Cmder) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if c.Err() == err {
			return nil
		}
	}
	return err
}
