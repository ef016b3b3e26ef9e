package mq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/clock"
)

// Handler processes one delivery. Returning nil acks it; returning an error
// nacks it with a backoff delay (or dead-letters it at the subscription's
// max attempts); returning an error wrapped by Permanent dead-letters it at
// once. The handler must not settle the delivery itself. ctx is canceled
// when the Consumer gives up on the handler (Shutdown's deadline passed, or
// Run's context ended).
type Handler func(ctx context.Context, d *Delivery) error

// Permanent marks err as not worth retrying: the Consumer dead-letters the
// message at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Consumer runs a Handler over a Subscription with bounded concurrency,
// automatic lease extension while the handler runs, retry with exponential
// backoff and jitter, dead-lettering, optional idempotency, per-key serial
// processing on ordered subscriptions, and a graceful drain on Shutdown.
type Consumer struct {
	sub *Subscription
	h   Handler
	cfg consumerConfig
	clk clock.Clock

	mu       sync.Mutex
	running  bool
	stopping chan struct{} // closed by Shutdown: stop receiving
	stopped  chan struct{} // closed when Run returns
	inflight map[*Delivery]time.Time
	keys     map[string][]*Delivery // ordered: deliveries waiting for their key
	cancelH  context.CancelFunc     // cancels handlers

	stats consumerStats
}

type consumerConfig struct {
	concurrency  int
	backoff      Backoff
	maxExtension time.Duration
	maxAttempts  int
	store        IdempotencyStore
	logger       *slog.Logger
	clk          clock.Clock
}

// ConsumerOption configures a Consumer.
type ConsumerOption func(*consumerConfig) error

// WithConcurrency sets how many handlers run at once (default 8).
func WithConcurrency(n int) ConsumerOption {
	return func(c *consumerConfig) error {
		if n < 1 || n > 100000 {
			return newError(InvalidArgument, "mq.WithConcurrency", "concurrency must be 1 to 100000", nil)
		}
		c.concurrency = n
		return nil
	}
}

// WithBackoff sets the retry backoff after a failed handler (default
// DefaultBackoff: 1 s doubling to 5 min, with jitter).
func WithBackoff(b Backoff) ConsumerOption {
	return func(c *consumerConfig) error {
		if b.Min < 0 || b.Max < b.Min {
			return newError(InvalidArgument, "mq.WithBackoff", "want 0 <= Min <= Max", nil)
		}
		c.backoff = b
		return nil
	}
}

// WithMaxExtension caps how long the Consumer keeps extending the lease of
// a delivery whose handler is still running (default 1 h). After that the
// lease ends and the message is delivered again.
func WithMaxExtension(d time.Duration) ConsumerOption {
	return func(c *consumerConfig) error {
		if d <= 0 {
			return newError(InvalidArgument, "mq.WithMaxExtension", "must be positive", nil)
		}
		c.maxExtension = d
		return nil
	}
}

// WithMaxAttempts dead-letters a message whose handler failed on attempt n
// or later (default: the subscription's MaxAttempts; 0 there means retry
// forever). The subscription needs a dead-letter destination.
func WithMaxAttempts(n int) ConsumerOption {
	return func(c *consumerConfig) error {
		if n < 0 {
			return newError(InvalidArgument, "mq.WithMaxAttempts", "must not be negative", nil)
		}
		c.maxAttempts = n
		return nil
	}
}

// WithIdempotency makes the handler run to success at most once per key
// (the DedupID, else the message ID) as recorded by store (default: none).
// A claim is taken for the longest a handler may hold its delivery
// (WithMaxExtension, 1 h by default, plus one lease): if a process dies
// mid-handler, a shared store keeps the key claimed that long, and the
// redelivered message waits (its lease kept) until the claim expires. Set
// WithMaxExtension to what your handlers need to bound that wait.
func WithIdempotency(store IdempotencyStore) ConsumerOption {
	return func(c *consumerConfig) error {
		c.store = store
		return nil
	}
}

// WithConsumerClock makes the Consumer measure its retry backoff, lease
// keeping and idempotency waits with c (default: the Subscription's clock;
// see WithSubscriptionClock). Deadlines of the contexts passed in stay on
// real time.
func WithConsumerClock(c clock.Clock) ConsumerOption {
	return func(cfg *consumerConfig) error {
		if c == nil {
			return newError(InvalidArgument, "mq.WithConsumerClock", "nil clock", nil)
		}
		cfg.clk = c
		return nil
	}
}

// WithLogger sets where the Consumer reports failures it cannot return,
// such as a failed ack (default: nowhere).
func WithLogger(l *slog.Logger) ConsumerOption {
	return func(c *consumerConfig) error {
		c.logger = l
		return nil
	}
}

// NewConsumer returns a Consumer of h over sub. It starts nothing: call Run.
func NewConsumer(sub *Subscription, h Handler, opts ...ConsumerOption) (*Consumer, error) {
	const op = "mq.NewConsumer"
	if sub == nil || h == nil {
		return nil, newError(InvalidArgument, op, "nil subscription or handler", nil)
	}
	cfg := consumerConfig{concurrency: 8, backoff: DefaultBackoff, maxExtension: time.Hour}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.maxAttempts == 0 {
		cfg.maxAttempts = sub.info.MaxAttempts
	}
	clk := cfg.clk
	if clk == nil {
		clk = sub.clk
	}
	return &Consumer{
		sub: sub, h: h, cfg: cfg, clk: clk,
		stopping: make(chan struct{}),
		stopped:  make(chan struct{}),
		inflight: make(map[*Delivery]time.Time),
		keys:     make(map[string][]*Delivery),
	}, nil
}

// Run receives and handles messages until ctx ends or Shutdown is called.
// It returns nil after Shutdown, ctx's error wrapped when ctx ended (after
// canceling running handlers and handing their deliveries back), and an
// error matching ErrClosed when the subscription was shut down under it.
// Run may be called once.
func (c *Consumer) Run(ctx context.Context) error {
	const op = "mq.Consumer.Run"
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return newError(FailedPrecondition, op, "Run called twice", nil)
	}
	c.running = true
	c.mu.Unlock()
	defer close(c.stopped)

	select {
	case <-c.stopping:
		return nil
	default:
	}
	// recvCtx stops receiving; hctx cancels handlers.
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	hctx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	c.mu.Lock()
	c.cancelH = cancelHandlers
	c.mu.Unlock()
	unwatch := context.AfterFunc(ctx, cancelHandlers)
	defer unwatch()
	go func() {
		select {
		case <-c.stopping:
		case <-recvCtx.Done():
		}
		stopRecv()
	}()

	var wg sync.WaitGroup
	var fatal atomic.Pointer[error]
	for range c.cfg.concurrency {
		wg.Go(func() {
			if err := c.worker(recvCtx, hctx); err != nil {
				fatal.CompareAndSwap(nil, &err)
				stopRecv()
			}
		})
	}
	keeperDone := make(chan struct{})
	keeperStop := make(chan struct{})
	go func() { defer close(keeperDone); c.keepLeases(keeperStop) }()

	wg.Wait()
	close(keeperStop)
	<-keeperDone
	c.returnUnfinished()
	if p := fatal.Load(); p != nil {
		return *p
	}
	if err := ctx.Err(); err != nil {
		return newError(ctxCode(err, Canceled), op, "", err)
	}
	return nil
}

// Shutdown stops receiving, lets running handlers finish until ctx ends,
// then cancels them and hands their deliveries back at once, and waits for
// Run to return. It does not shut down the Subscription. Safe to call more
// than once and before Run.
func (c *Consumer) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	select {
	case <-c.stopping:
	default:
		close(c.stopping)
	}
	running := c.running
	c.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-c.stopped:
		return nil
	case <-ctx.Done():
	}
	// Deadline passed: hand back what is still running, then wait for
	// handlers to notice their canceled context.
	c.returnUnfinished()
	c.cancelHandlers()
	<-c.stopped
	return newError(ctxCode(ctx.Err(), DeadlineExceeded), "mq.Consumer.Shutdown", "handlers still running were canceled", ctx.Err())
}

func (c *Consumer) cancelHandlers() {
	c.mu.Lock()
	f := c.cancelH
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// worker receives and handles until recvCtx ends.
func (c *Consumer) worker(recvCtx, hctx context.Context) error {
	failures := 0
	for {
		d, err := c.sub.Receive(recvCtx)
		if err != nil {
			if recvCtx.Err() != nil {
				return nil
			}
			if Code(err) == Closed {
				return err
			}
			c.logf("receive failed", err)
			failures++
			if clock.Sleep(recvCtx, c.clk, c.cfg.backoff.Delay(failures), nil) != nil {
				return nil
			}
			continue
		}
		failures = 0
		c.stats.received.Add(1)
		c.track(d)
		if c.sub.info.Ordered && d.Key != "" && !c.claimKey(d) {
			continue // queued behind its key; handled by the key's owner
		}
		for d != nil {
			c.handle(hctx, d)
			d = c.nextForKey(d)
		}
	}
}

func (c *Consumer) track(d *Delivery) {
	c.mu.Lock()
	c.inflight[d] = c.clk.Now()
	c.mu.Unlock()
}

func (c *Consumer) untrack(d *Delivery) {
	c.mu.Lock()
	delete(c.inflight, d)
	c.mu.Unlock()
}

// claimKey makes d the owner of its key, or queues it behind the owner.
func (c *Consumer) claimKey(d *Delivery) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, busy := c.keys[d.Key]; busy {
		c.keys[d.Key] = append(q, d)
		return false
	}
	c.keys[d.Key] = nil
	return true
}

// nextForKey returns the next queued delivery of d's key, or releases it.
func (c *Consumer) nextForKey(d *Delivery) *Delivery {
	if !c.sub.info.Ordered || d.Key == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.keys[d.Key]
	if len(q) == 0 {
		delete(c.keys, d.Key)
		return nil
	}
	c.keys[d.Key] = q[1:]
	return q[0]
}

func (c *Consumer) handle(ctx context.Context, d *Delivery) {
	defer c.untrack(d)
	if obs := c.sub.obs; obs != nil {
		var done func(ProcessResult)
		ctx, done = obs.StartProcess(ctx, d)
		done(c.process(ctx, d))
		return
	}
	c.process(ctx, d)
}

// process runs the handler over d (with the idempotency claim around it)
// and settles d; it returns what it did, for the observer.
func (c *Consumer) process(ctx context.Context, d *Delivery) ProcessResult {
	if ctx.Err() != nil {
		c.settle(d.Nack(0)) // stopping: hand it back at once
		return ProcessResult{Outcome: OutcomeHandedBack}
	}
	var cl *heldClaim
	if c.cfg.store != nil {
		key := d.DedupID
		if key == "" {
			key = d.ID
		}
		res, err := c.claim(ctx, key)
		switch {
		case err != nil:
			c.logf("idempotency claim failed", err)
			delay := c.cfg.backoff.Delay(1)
			c.settle(d.Nack(delay))
			c.stats.retried.Add(1)
			return ProcessResult{Err: err, Outcome: OutcomeRetried, NextDelay: delay}
		case res.Result == Done:
			c.stats.duplicates.Add(1)
			c.settle(d.Ack())
			return ProcessResult{Outcome: OutcomeDuplicate}
		case res.Result == Busy:
			// Still claimed when the consumer stops: hand it back.
			c.settle(d.Nack(0))
			return ProcessResult{Outcome: OutcomeHandedBack}
		}
		cl = &heldClaim{Claim: res}
		ctx = context.WithValue(ctx, claimKey{}, cl)
	}
	err := c.call(ctx, d)
	if err == nil {
		if cl != nil && !cl.completed.Load() {
			// Record it even if Shutdown cancels ctx right now.
			if cerr := c.cfg.store.Complete(context.WithoutCancel(ctx), cl.Claim); cerr != nil {
				c.logf("idempotency complete failed", cerr)
			}
		}
		if c.settle(d.Ack()) {
			c.stats.acked.Add(1)
		}
		return ProcessResult{Outcome: OutcomeAcked}
	}
	if cl != nil && !cl.completed.Load() {
		if rerr := c.cfg.store.Release(context.WithoutCancel(ctx), cl.Claim); rerr != nil {
			c.logf("idempotency release failed", rerr)
		}
	}
	res := ProcessResult{Err: err}
	switch {
	case ctx.Err() != nil:
		// Canceled by Shutdown or Run's context: not the message's fault.
		c.settle(d.Nack(0))
		res.Outcome = OutcomeHandedBack
	case IsPermanent(err):
		if c.settle(d.DeadLetter("permanent error: " + err.Error())) {
			c.stats.deadLettered.Add(1)
		}
		res.Outcome = OutcomeDeadLettered
	case c.cfg.maxAttempts > 0 && d.Attempt >= c.cfg.maxAttempts:
		if c.settle(d.DeadLetter("max attempts (" + strconv.Itoa(c.cfg.maxAttempts) + ") reached; last error: " + err.Error())) {
			c.stats.deadLettered.Add(1)
		}
		res.Outcome = OutcomeDeadLettered
	default:
		res.Outcome, res.NextDelay = OutcomeRetried, c.cfg.backoff.Delay(d.Attempt)
		if c.settle(d.Nack(res.NextDelay)) {
			c.stats.retried.Add(1)
		}
	}
	c.logFailure(ctx, d, res)
	return res
}

// logFailure logs a failed handler run once, with what happens next.
func (c *Consumer) logFailure(ctx context.Context, d *Delivery, res ProcessResult) {
	l := c.cfg.logger
	if l == nil {
		return
	}
	level := slog.LevelWarn
	if res.Outcome == OutcomeDeadLettered {
		level = slog.LevelError
	}
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("subscription", c.sub.info.Name),
		slog.String("message_id", d.ID),
		slog.Int("attempt", d.Attempt),
		slog.String("outcome", res.Outcome.String()),
		slog.Any("err", res.Err),
	}
	if res.Outcome == OutcomeRetried {
		attrs = append(attrs, slog.Duration("next_delay", res.NextDelay))
	}
	if c.cfg.maxAttempts > 0 {
		attrs = append(attrs, slog.Int("max_attempts", c.cfg.maxAttempts))
	}
	l.LogAttrs(ctx, level, "portmq consumer: handler failed", attrs...)
}

// claim claims key, waiting while a duplicate holds the claim: the
// duplicate either succeeds (then this one is Done) or fails and releases
// it (then this one runs). Waiting keeps the delivery, and its lease, in
// hand, so it costs no attempt. It returns Busy only when ctx ends.
func (c *Consumer) claim(ctx context.Context, key string) (Claim, error) {
	wait := 5 * time.Millisecond
	// A claim outlives the longest a handler may keep the delivery.
	ttl := c.cfg.maxExtension + c.sub.info.Lease
	for {
		res, err := c.cfg.store.Claim(ctx, key, ttl)
		if err != nil || res.Result != Busy {
			return res, err
		}
		if clock.Sleep(ctx, c.clk, wait, nil) != nil {
			return res, nil
		}
		wait = min(2*wait, time.Second)
	}
}

// call runs the handler, turning a panic into an error.
func (c *Consumer) call(ctx context.Context, d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mq: handler panicked: %v", r)
		}
	}()
	return c.h(ctx, d)
}

// settle reports whether a settling call succeeded, logging other errors.
// ErrSettled after a Shutdown handed the delivery back is expected.
func (c *Consumer) settle(err error) bool {
	if err == nil {
		return true
	}
	if !errors.Is(err, ErrSettled) {
		c.stats.errors.Add(1)
		c.logf("settling a delivery failed", err)
	}
	return false
}

// keepLeases extends the lease of every delivery held by the Consumer
// (running or queued behind its key) before it ends, up to maxExtension.
func (c *Consumer) keepLeases(stop <-chan struct{}) {
	lease := c.sub.info.Lease
	// Check every quarter lease and extend what has less than three
	// quarters left, so that an extension starts with at least half a lease
	// to spare: a slow backend (seconds to apply a visibility change) must
	// not see the lease end first.
	every := max(lease/4, 10*time.Millisecond)
	var batch []*Delivery
	for {
		if clock.Sleep(context.Background(), c.clk, every, stop) != nil {
			return
		}
		now := c.clk.Now()
		batch = batch[:0]
		c.mu.Lock()
		for d, since := range c.inflight {
			dl := d.Deadline()
			if now.Sub(since) < c.cfg.maxExtension && (dl.IsZero() || dl.Sub(now) < lease/2+every) {
				batch = append(batch, d)
			}
		}
		c.mu.Unlock()
		if len(batch) > 0 {
			c.sub.extendMany(batch, lease)
		}
	}
}

// returnUnfinished nacks (without delay) every delivery still held, so the
// backend can hand it to another consumer at once.
func (c *Consumer) returnUnfinished() {
	c.mu.Lock()
	ds := make([]*Delivery, 0, len(c.inflight))
	for d := range c.inflight {
		ds = append(ds, d)
	}
	c.mu.Unlock()
	for _, d := range ds {
		_ = d.Nack(0) // ErrSettled if its handler finished meanwhile
	}
}

func (c *Consumer) logf(msg string, err error) {
	if c.cfg.logger != nil {
		c.cfg.logger.Warn("portmq consumer: "+msg, "subscription", c.sub.info.Name, "err", err)
	}
}

// ConsumerStats are running totals of a Consumer.
type ConsumerStats struct {
	Received     int64 // deliveries taken from the subscription
	Acked        int64 // handler succeeded and the ack went through
	Retried      int64 // handler failed; nacked with backoff
	DeadLettered int64 // permanent error or max attempts
	Duplicates   int64 // skipped because the idempotency store had the key
	Errors       int64 // settling calls that failed (the message comes back)
	InFlight     int64 // deliveries held now
}

type consumerStats struct {
	received, acked, retried, deadLettered, duplicates, errors atomic.Int64
}

// Stats returns the Consumer's running totals.
func (c *Consumer) Stats() ConsumerStats {
	c.mu.Lock()
	n := len(c.inflight)
	c.mu.Unlock()
	return ConsumerStats{
		Received: c.stats.received.Load(), Acked: c.stats.acked.Load(), Retried: c.stats.retried.Load(),
		DeadLettered: c.stats.deadLettered.Load(), Duplicates: c.stats.duplicates.Load(),
		Errors: c.stats.errors.Load(), InFlight: int64(n),
	}
}
