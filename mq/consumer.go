package mq

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/internal/keyhold"
)

// Handler processes one delivery. Returning nil acks it; returning an error
// nacks it with a backoff delay (or dead-letters it at the subscription's
// max attempts); returning an error wrapped by Permanent dead-letters it at
// once. The handler must not settle the delivery itself. ctx is canceled
// when the Consumer gives up on the handler (Shutdown's deadline passed, or
// Run's context ended).
type Handler func(ctx context.Context, d *Delivery) error

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
	keys     keyhold.Hold[*Delivery] // ordered: deliveries waiting for their key
	cancelH  context.CancelFunc      // cancels handlers

	stats consumerStats
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

func (c *Consumer) logf(msg string, err error) {
	if c.cfg.logger != nil {
		c.cfg.logger.Warn("portmq consumer: "+msg, "subscription", c.sub.info.Name, "err", err)
	}
}
