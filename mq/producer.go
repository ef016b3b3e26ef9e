package mq

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// Producer sends messages to one topic. It is safe for concurrent use.
// Open one with OpenProducer or NewProducer and Shutdown it when done.
type Producer struct {
	d    driver.Topic
	caps driver.Capabilities
	gate gate
	// stopping is closed when Shutdown begins: sends waiting to retry
	// after a connection loss give up.
	stopping chan struct{}
	obs      ProducerObserver // nil: not observed
	pool     sync.Pool        // *[]driver.Message scratch buffers
	clk      clock.Clock
}

// ProducerOption configures a Producer.
type ProducerOption func(*producerConfig) error

type producerConfig struct {
	obs          Observer
	obsSet       bool
	system, dest string
	clk, muxClk  clock.Clock
}

// WithProducerClock makes the Producer measure the delays it emulates and
// its retry backoff with c (default: the URLMux's clock if it has one,
// else the driver's clock where the driver exposes one (driver.Clocked, as
// memdriver does), else clock.Real). Deadlines of the contexts passed in
// stay on real time.
func WithProducerClock(c clock.Clock) ProducerOption {
	return func(cfg *producerConfig) error {
		if c == nil {
			return newError(InvalidArgument, "mq.WithProducerClock", "nil clock", nil)
		}
		cfg.clk = c
		return nil
	}
}

// withMuxProducerClock passes the URLMux's clock, which WithProducerClock
// overrides.
func withMuxProducerClock(c clock.Clock) ProducerOption {
	return func(cfg *producerConfig) error {
		cfg.muxClk = c
		return nil
	}
}

// WithProducerObserver makes o observe the Producer (default: the one
// SetDefaultObserver installed, if any); nil turns observing off.
func WithProducerObserver(o Observer) ProducerOption {
	return func(c *producerConfig) error {
		c.obs, c.obsSet = o, true
		return nil
	}
}

// withProducerNames tells the observer the URL's scheme and topic.
func withProducerNames(system, dest string) ProducerOption {
	return func(c *producerConfig) error {
		c.system, c.dest = system, dest
		return nil
	}
}

// NewProducer wraps a driver topic. Most programs use OpenProducer.
func NewProducer(t driver.Topic, opts ...ProducerOption) (*Producer, error) {
	if t == nil {
		return nil, newError(InvalidArgument, "mq.NewProducer", "nil driver topic", nil)
	}
	var cfg producerConfig
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	p := &Producer{d: t, caps: t.Capabilities(), clk: pickClock(cfg.clk, cfg.muxClk, t), stopping: make(chan struct{})}
	if !cfg.obsSet {
		cfg.obs = defaultObs()
	}
	if cfg.obs != nil {
		p.obs = cfg.obs.ObserveProducer(HandleInfo{System: cfg.system, Destination: cfg.dest, Capabilities: p.caps})
	}
	p.pool.New = func() any { s := make([]driver.Message, 0, 1); return &s }
	return p, nil
}

// Capabilities reports what the backend does natively.
func (p *Producer) Capabilities() Capabilities { return p.caps }

// Send sends m and returns once the backend has durably accepted it
// (publisher confirm, acks=all, HTTP 200). It sets m.ID. Invalid messages
// fail with InvalidArgument before anything is sent. When the backend
// cannot be reached (a network cut, a broker restart), Send tries again,
// with backoff, until ctx ends or Shutdown begins, and then returns an
// Unavailable error (IsRetryable). A message whose confirm was lost in a
// cut may be sent twice: give it a DedupID where duplicates matter.
func (p *Producer) Send(ctx context.Context, m *Message) error {
	const op = "mq.Producer.Send"
	if err := validate(m, &p.caps); err != nil {
		return err
	}
	if !p.gate.enter() {
		return newError(Closed, op, "producer is shut down", nil)
	}
	defer p.gate.leave()
	var inject map[string]string
	var end func(error)
	var seen *Message // what the observer sees: a copy, so that m does not escape
	if p.obs != nil {
		seen = observed(m)
		ctx, inject, end = p.obs.StartSend(ctx, MessageList{one: seen})
	}
	bp := p.pool.Get().(*[]driver.Message)
	buf := append((*bp)[:0], driver.Message{})
	p.toDriver(&buf[0], m)
	if len(inject) > 0 {
		buf[0].Attributes = withAttrs(buf[0].Attributes, inject)
		buf[0].AttributesOwned = true // inject was made for this call, withAttrs's copy too
	}
	var err error
	for try := 1; ; try++ {
		err = p.d.SendBatch(ctx, buf)
		if err == nil {
			m.ID = buf[0].ID
			break
		}
		err = wrapDriver(p.d, op, driver.ItemError(err, 0))
		if !isOutage(ctx, err) {
			break
		}
		if why := pauseRetry(ctx, p.clk, p.stopping, try); why != nil {
			err = outageError(op, err, why)
			break
		}
	}
	buf[0] = driver.Message{}
	*bp = buf[:0]
	p.pool.Put(bp)
	if seen != nil {
		if end != nil {
			seen.ID = m.ID
			end(err)
		}
		*seen = Message{} // back to seenPool holding nothing of m
		seenPool.Put(seen)
	}
	return err
}

// observed copies m for an observer, into a Message from seenPool (Send
// returns it there once the observer's end function has returned: an
// observer keeps nothing of MessageList past that). Handing m itself to
// the observer's interface method would make every Send's message escape
// to the heap, observed or not (escape analysis cannot tell the branches
// apart): one allocation per message on the hot path.
//
//go:noinline
func observed(m *Message) *Message {
	c := seenPool.Get().(*Message)
	*c = *m
	return c
}

var seenPool = sync.Pool{New: func() any { return new(Message) }}

// withAttrs returns attrs with extra added where attrs lacks the key, in
// a new map (attrs is the caller's), or extra itself (the observer's, now
// mq's) when attrs is empty.
func withAttrs(attrs, extra map[string]string) map[string]string {
	if len(attrs) == 0 {
		return extra
	}
	out := make(map[string]string, len(attrs)+len(extra))
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

// SendBatch sends every message, in batches as large as the backend takes.
// It returns nil when all were accepted. On a partial failure it returns a
// *BatchError whose Errs[i] is the error of msgs[i]; messages with a nil
// error were sent and have their ID set.
func (p *Producer) SendBatch(ctx context.Context, msgs []*Message) error {
	const op = "mq.Producer.SendBatch"
	for _, m := range msgs {
		if err := validate(m, &p.caps); err != nil {
			err.Op = op
			return err
		}
	}
	if !p.gate.enter() {
		return newError(Closed, op, "producer is shut down", nil)
	}
	defer p.gate.leave()
	var inject map[string]string
	var end func(error)
	if p.obs != nil {
		ctx, inject, end = p.obs.StartSend(ctx, MessageList{many: msgs})
	}
	max := p.caps.MaxBatch
	if max <= 0 {
		max = len(msgs)
	}
	var errs []error
	buf := make([]driver.Message, 0, min(max, len(msgs)))
	for start := 0; start < len(msgs); start += max {
		chunk := msgs[start:min(start+max, len(msgs))]
		buf = buf[:len(chunk)]
		for i, m := range chunk {
			buf[i] = driver.Message{}
			p.toDriver(&buf[i], m)
			if len(inject) > 0 {
				buf[i].Attributes = withAttrs(buf[i].Attributes, inject)
			}
		}
		if cerrs := p.sendChunk(ctx, op, chunk, buf); cerrs != nil {
			if errs == nil {
				errs = make([]error, len(msgs))
			}
			copy(errs[start:], cerrs)
		}
	}
	var err error
	if errs != nil {
		err = &BatchError{Errs: errs}
	}
	if end != nil {
		end(err)
	}
	return err
}

// toDriver fills dm from m, emulating Delay when the backend lacks it.
// sendChunk sends one chunk of at most MaxBatch messages, retrying the
// messages that failed Unavailable until ctx ends or Shutdown begins. It
// returns the per-message errors, or nil when every message was sent.
func (p *Producer) sendChunk(ctx context.Context, op string, chunk []*Message, buf []driver.Message) []error {
	var errs []error
	pending := chunk // the messages buf holds, in order
	idx := make([]int, 0, len(chunk))
	for i := range chunk {
		idx = append(idx, i)
	}
	for try := 1; ; try++ {
		err := p.d.SendBatch(ctx, buf)
		retry := buf[:0]
		rIdx, rPending := idx[:0], pending[:0]
		for i, m := range pending {
			ierr := driver.ItemError(err, i)
			if ierr == nil {
				m.ID = buf[i].ID
				if errs != nil {
					errs[idx[i]] = nil
				}
				continue
			}
			if errs == nil {
				errs = make([]error, len(chunk))
			}
			errs[idx[i]] = wrapDriver(p.d, op, ierr)
			if isOutage(ctx, errs[idx[i]]) {
				retry = append(retry, buf[i])
				rIdx = append(rIdx, idx[i])
				rPending = append(rPending, m)
			}
		}
		if len(retry) == 0 {
			if slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
				return errs
			}
			return nil
		}
		if why := pauseRetry(ctx, p.clk, p.stopping, try); why != nil {
			for _, i := range rIdx {
				errs[i] = outageError(op, errs[i], why)
			}
			return errs
		}
		buf, idx, pending = retry, rIdx, rPending
	}
}

func (p *Producer) toDriver(dm *driver.Message, m *Message) {
	dm.Body, dm.Attributes, dm.Key, dm.DedupID = m.Body, m.Attributes, m.Key, m.DedupID
	if m.Delay <= 0 {
		return
	}
	if p.caps.Delay.Has() && (p.caps.MaxDelay == 0 || m.Delay <= p.caps.MaxDelay) {
		dm.Delay = m.Delay
		return
	}
	attrs := make(map[string]string, len(m.Attributes)+1)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	attrs[driver.AttrNotBefore] = p.clk.Now().Add(m.Delay).UTC().Format(time.RFC3339Nano)
	dm.Attributes = attrs
}

// As exposes the driver's native client (see the driver's # As section).
func (p *Producer) As(i any) bool { return p.d.As(i) }

// ErrorAs converts an error from this producer to a native error type.
func (p *Producer) ErrorAs(err error, i any) bool { return errorAs(p.d, err, i) }

// Shutdown stops accepting sends, waits until sends in progress return or
// ctx ends, and releases the driver. It is safe to call more than once;
// later calls return nil.
func (p *Producer) Shutdown(ctx context.Context) error {
	if !p.gate.close() {
		return nil
	}
	close(p.stopping)
	werr := p.gate.wait(ctx)
	cerr := p.d.Close()
	if p.obs != nil {
		closeObserver(p.obs)
	}
	if werr != nil {
		return newError(ctxCode(werr, DeadlineExceeded), "mq.Producer.Shutdown", "sends still in progress", werr)
	}
	return wrapDriver(p.d, "mq.Producer.Shutdown", cerr)
}

// BatchError reports per-message results of SendBatch.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string { return (&driver.BatchError{Errs: e.Errs}).Error() }

// Unwrap returns the item errors.
func (e *BatchError) Unwrap() []error { return (&driver.BatchError{Errs: e.Errs}).Unwrap() }

func errorAs(c driver.Common, err error, i any) bool {
	if err == nil || i == nil {
		return false
	}
	for e := err; e != nil; {
		if me, ok := e.(*Error); ok {
			e = me.Err
			continue
		}
		return c.ErrorAs(e, i)
	}
	return false
}
