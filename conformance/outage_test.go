package conformance_test

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// The in-memory engine cannot be restarted, so for rule 15 the mem harness
// simulates what clients see of a broker restart: for a while every driver
// call fails with code Unavailable, and then the broker is back with its
// state. outage wraps memdriver's opener and is transparent otherwise: it
// passes capabilities and every optional interface through.

type outage struct {
	down atomic.Bool
	l    time.Duration

	mu      sync.Mutex
	cutting chan struct{} // closed when a cut begins: blocked receives fail
	timer   *time.Timer
}

var errRestarting = driver.NewError(driver.Unavailable, "outage: broker restarting")

// restart takes the broker down for one lease, returns, and keeps failing
// calls for another lease, as clients reconnect after a restart.
func (o *outage) restart(ctx context.Context) error {
	o.down.Store(true)
	t := time.NewTimer(o.l)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		o.down.Store(false)
		return ctx.Err()
	}
	time.AfterFunc(o.l, func() { o.down.Store(false) })
	return nil
}

// cut takes the broker down for d at once, failing receives that are
// blocked in the engine as a reset connection does, and returns.
func (o *outage) cut(_ context.Context, d time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down.Store(true)
	if o.cutting != nil {
		close(o.cutting)
	}
	o.cutting = make(chan struct{})
	if o.timer != nil {
		o.timer.Stop()
	}
	o.timer = time.AfterFunc(d, func() { o.down.Store(false) })
	return nil
}

// cutSignal returns the channel the next cut closes.
func (o *outage) cutSignal() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cutting == nil {
		o.cutting = make(chan struct{})
	}
	return o.cutting
}

func (o *outage) check() error {
	if o.down.Load() {
		return errRestarting
	}
	return nil
}

func (o *outage) mux() *mq.URLMux {
	m := new(mq.URLMux)
	m.Register(memdriver.Scheme, o.opener(memdriver.Default()))
	return m
}

// opener opens e's handles through o.
func (o *outage) opener(e *memdriver.Engine) *outageOpener {
	return &outageOpener{o: o, inner: e.Opener()}
}

// OpenAdmin passes through: provisioning is not cut.
func (op *outageOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	return op.inner.(driver.AdminOpener).OpenAdmin(ctx, u)
}

type outageOpener struct {
	o     *outage
	inner driver.Opener
}

func (op *outageOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	t, err := op.inner.OpenTopic(ctx, u)
	if err != nil {
		return nil, err
	}
	return &outageTopic{Topic: t, o: op.o}, nil
}

func (op *outageOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	s, err := op.inner.OpenSubscription(ctx, u)
	if err != nil {
		return nil, err
	}
	return &outageSub{Subscription: s, o: op.o}, nil
}

type outageTopic struct {
	driver.Topic
	o *outage
}

func (t *outageTopic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if err := t.o.check(); err != nil {
		return err
	}
	return t.Topic.SendBatch(ctx, msgs)
}

type outageSub struct {
	driver.Subscription
	o *outage
}

func (s *outageSub) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if err := s.o.check(); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cut := s.o.cutSignal()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-cut:
			cancel()
		case <-stop:
		}
	}()
	n, err := s.Subscription.ReceiveBatch(rctx, dst)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return n, errRestarting // the connection was reset under the call
	}
	return n, err
}

func (s *outageSub) Ack(ctx context.Context, ids []driver.AckID) error {
	if err := s.o.check(); err != nil {
		return err
	}
	return s.Subscription.Ack(ctx, ids)
}

func (s *outageSub) Nack(ctx context.Context, ids []driver.AckID, d time.Duration) error {
	if err := s.o.check(); err != nil {
		return err
	}
	return s.Subscription.Nack(ctx, ids, d)
}

func (s *outageSub) Extend(ctx context.Context, ids []driver.AckID, d time.Duration) error {
	if err := s.o.check(); err != nil {
		return err
	}
	if e, ok := s.Subscription.(driver.Extender); ok {
		return e.Extend(ctx, ids, d)
	}
	return nil
}

func (s *outageSub) Seek(ctx context.Context, t time.Time) error {
	if err := s.o.check(); err != nil {
		return err
	}
	sk, ok := s.Subscription.(driver.Seeker)
	if !ok {
		return driver.NewError(driver.Unsupported, "outage: no Seek")
	}
	return sk.Seek(ctx, t)
}

func (s *outageSub) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	if err := s.o.check(); err != nil {
		return err
	}
	dl, ok := s.Subscription.(driver.DeadLetterer)
	if !ok {
		return driver.NewError(driver.Unsupported, "outage: no DeadLetter")
	}
	return dl.DeadLetter(ctx, items)
}

func (s *outageSub) OpenDeadLetterTopic(ctx context.Context) (driver.Topic, error) {
	o, ok := s.Subscription.(driver.DeadLetterTopicOpener)
	if !ok {
		return nil, driver.NewError(driver.Unsupported, "outage: no dead-letter topic")
	}
	t, err := o.OpenDeadLetterTopic(ctx)
	if err != nil {
		return nil, err
	}
	return &outageTopic{Topic: t, o: s.o}, nil
}
