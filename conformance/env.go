package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

// env is one case's world: its provisioned resources and helpers that open
// handles on them and shut every handle down when the case ends.
type env struct {
	t    tb
	s    *suite
	tm   timing
	spec Spec
	res  *Resources
}

var caseSeq atomic.Uint64

// caseName turns a case name into a resource name: lower case, digits and
// '-', unique in the process and (by a random part) across processes.
func caseName(name string) string {
	var b strings.Builder
	b.WriteString("cf-")
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			if b.Len() > 3 {
				b.WriteByte('-')
			}
			b.WriteRune(r - 'A' + 'a')
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%s-%s%d", strings.TrimRight(b.String(), "-"), hex.EncodeToString(rnd[:]), caseSeq.Add(1))
}

// setup provisions spec's resources for the case. Zero Subscriptions means
// one and zero Lease means the harness lease.
func setup(t tb, s *suite, spec Spec) *env {
	t.Helper()
	e, err := trySetup(t, s, spec)
	if err != nil {
		t.Fatalf("Provision(%+v): %v", e.spec, err)
		return nil // not reached: Fatalf ends the case
	}
	return e
}

// trySetup is setup returning Provision's error instead of failing the
// case. On error, only the returned env's spec is set.
func trySetup(t tb, s *suite, spec Spec) (*env, error) {
	t.Helper()
	if spec.Subscriptions < 1 {
		spec.Subscriptions = 1
	}
	if spec.Lease <= 0 {
		spec.Lease = s.tm.lease
	}
	spec.Name = caseName(t.Name()[strings.LastIndexByte(t.Name(), '/')+1:])
	ctx, cancel := context.WithTimeout(t.Context(), s.tm.shutdown)
	defer cancel()
	res, err := s.h.Provision(ctx, spec)
	if err != nil {
		return &env{spec: spec}, err
	}
	if res == nil {
		t.Fatalf("Provision(%+v) returned nil Resources", spec)
		return nil, nil
	}
	if res.Cleanup != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.tm.shutdown)
			defer cancel()
			if err := res.Cleanup(ctx); err != nil {
				t.Logf("Resources.Cleanup: %v", err)
			}
		})
	}
	switch {
	case res.TopicURL == "":
		t.Fatalf("Provision returned no TopicURL")
	case len(res.SubscriptionURLs) != spec.Subscriptions:
		t.Fatalf("Provision returned %d subscription URLs, want %d", len(res.SubscriptionURLs), spec.Subscriptions)
	case spec.DeadLetter && res.DeadLetterURL == "":
		t.Fatalf("Provision returned no DeadLetterURL although Spec.DeadLetter is set")
	}
	return &env{t: t, s: s, tm: s.tm, spec: spec, res: res}, nil
}

func (e *env) ctx() context.Context { return e.t.Context() }

// within returns a context that ends after d (and with the case).
func (e *env) within(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx(), d)
}

// shutdownCtx is a fresh context for shutting things down in cleanups,
// which run after the case's context ended.
func (e *env) shutdownCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.tm.shutdown)
}

// producer opens a Producer of the topic, shut down when the case ends.
func (e *env) producer() *mq.Producer {
	e.t.Helper()
	p, err := e.s.mux.OpenProducer(e.ctx(), e.res.TopicURL)
	if err != nil {
		e.t.Fatalf("OpenProducer(%q): %v", e.res.TopicURL, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := e.shutdownCtx()
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			e.t.Errorf("Producer.Shutdown: %v", err)
		}
	})
	return p
}

// sub opens a handle on subscription i, shut down when the case ends.
func (e *env) sub(i int, opts ...mq.SubscriptionOption) *mq.Subscription {
	e.t.Helper()
	return e.open(e.res.SubscriptionURLs[i], opts...)
}

// deadLetters opens a handle on the dead-letter destination.
func (e *env) deadLetters() *mq.Subscription {
	e.t.Helper()
	return e.open(e.res.DeadLetterURL)
}

func (e *env) open(u string, opts ...mq.SubscriptionOption) *mq.Subscription {
	e.t.Helper()
	s, err := e.s.mux.OpenSubscription(e.ctx(), u, opts...)
	if err != nil {
		e.t.Fatalf("OpenSubscription(%q): %v", u, err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := e.shutdownCtx()
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			e.t.Errorf("Subscription.Shutdown: %v", err)
		}
	})
	return s
}

// gran is the delay precision: the harness's or the backend's, whichever
// is coarser.
func (e *env) gran(s *mq.Subscription) time.Duration {
	return max(e.tm.gran, s.Capabilities().Granularity)
}

// send sends m or fails the case.
func (e *env) send(p *mq.Producer, m *mq.Message) *mq.Message {
	e.t.Helper()
	ctx, cancel := e.within(e.tm.patience)
	defer cancel()
	if err := p.Send(ctx, m); err != nil {
		e.t.Fatalf("Send(%q): %v", m.Body, err)
	}
	if m.ID == "" {
		e.t.Fatalf("Send(%q) returned nil but left Message.ID empty", m.Body)
	}
	return m
}

// sendBody sends a message with body and returns it, with its ID set.
func (e *env) sendBody(p *mq.Producer, body string) *mq.Message {
	e.t.Helper()
	return e.send(p, &mq.Message{Body: []byte(body)})
}

// tryRecv receives one delivery within d.
func (e *env) tryRecv(s *mq.Subscription, d time.Duration) (*mq.Delivery, error) {
	ctx, cancel := e.within(d)
	defer cancel()
	return s.Receive(ctx)
}

// recv receives one delivery within d or fails the case, naming what was
// awaited.
func (e *env) recv(s *mq.Subscription, d time.Duration, what string) *mq.Delivery {
	e.t.Helper()
	dl, err := e.tryRecv(s, d)
	if err != nil {
		e.t.Fatalf("waiting up to %v for %s: Receive: %v", d, what, err)
	}
	return dl
}

// expectNone watches s for d and reports every delivery that arrives
// within d as an error. The deliveries are returned (unsettled) for the
// case to inspect, including one that arrived as the window closed (the
// context's timer may fire late), which is not an error.
func (e *env) expectNone(s *mq.Subscription, d time.Duration, why string) []*mq.Delivery {
	e.t.Helper()
	end := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(e.ctx(), end)
	defer cancel()
	var got []*mq.Delivery
	for {
		dl, err := s.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.t.Errorf("watching for %v (%s): Receive: %v", d, why, err)
			}
			return got
		}
		if early := time.Until(end); early > 0 {
			e.t.Errorf("%s, but got %s %v before the end of the %v window", why, describe(dl), early.Round(time.Microsecond), d)
		}
		got = append(got, dl)
	}
}

// ack acks d or reports an error.
func (e *env) ack(d *mq.Delivery) {
	e.t.Helper()
	if err := d.Ack(); err != nil {
		e.t.Errorf("Ack of %s: %v", describe(d), err)
	}
}

func describe(d *mq.Delivery) string {
	body := string(d.Body)
	if len(body) > 40 {
		body = body[:40] + "…"
	}
	return fmt.Sprintf("message %q (ID %s, key %q, attempt %d)", body, d.ID, d.Key, d.Attempt)
}

// runConsumer starts a Consumer of h over s and shuts it down (with a
// generous deadline) when the case ends, unless the case did it first.
func (e *env) runConsumer(s *mq.Subscription, h mq.Handler, opts ...mq.ConsumerOption) *runningConsumer {
	e.t.Helper()
	c, err := mq.NewConsumer(s, h, opts...)
	if err != nil {
		e.t.Fatalf("NewConsumer: %v", err)
	}
	rc := &runningConsumer{Consumer: c, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		rc.err = c.Run(context.Background())
	}()
	e.t.Cleanup(func() {
		ctx, cancel := e.shutdownCtx()
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			e.t.Errorf("Consumer.Shutdown: %v", err)
		}
		<-rc.done
		if rc.err != nil {
			e.t.Errorf("Consumer.Run returned %v after Shutdown, want nil", rc.err)
		}
	})
	return rc
}

type runningConsumer struct {
	*mq.Consumer
	done chan struct{}
	err  error // Run's result, once done is closed
}

// protect calls f and turns a panic into an error: the contract says nothing
// panics on bad input, double settling or use after shutdown.
func protect(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{p}
		}
	}()
	return f()
}

type panicError struct{ v any }

func (p *panicError) Error() string { return fmt.Sprintf("PANIC: %v", p.v) }

func isPanic(err error) bool {
	var p *panicError
	return errors.As(err, &p)
}

// events collects values from handlers running on other goroutines.
type events[T any] struct {
	mu   sync.Mutex
	list []T
	ch   chan struct{} // signaled on every add
}

func newEvents[T any]() *events[T] { return &events[T]{ch: make(chan struct{}, 1)} }

func (ev *events[T]) add(v T) {
	ev.mu.Lock()
	ev.list = append(ev.list, v)
	ev.mu.Unlock()
	select {
	case ev.ch <- struct{}{}:
	default:
	}
}

func (ev *events[T]) snapshot() []T {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]T(nil), ev.list...)
}

// waitFor waits up to d until cond holds for the events so far.
func (ev *events[T]) waitFor(ctx context.Context, d time.Duration, cond func([]T) bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if cond(ev.snapshot()) {
			return true
		}
		select {
		case <-ev.ch:
		case <-timer.C:
			return cond(ev.snapshot())
		case <-ctx.Done():
			return false
		}
	}
}

// work stands for a handler's work of duration d (it ends early if the case
// is abandoned).
func (e *env) work(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.ctx().Done():
	}
}
