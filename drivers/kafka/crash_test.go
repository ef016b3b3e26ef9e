package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

// killableDialer lets a test cut every connection of a client at once and
// refuse new ones, as when its process dies.
type killableDialer struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (d *killableDialer) DialContext(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("test: process killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		_ = c.Close()
	}
	d.conns = nil
}

func (d *killableDialer) revive() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = false
}

// handle is a subscription handle of a test, with what it takes to kill
// it.
type handle struct {
	sub       *mq.Subscription
	d         *subscription
	dialer    *killableDialer
	crashHook func() // called first by crash
	crashed   bool
}

// openHandle opens a subscription handle through the plain constructor,
// its consumer clients dialing through a killable dialer. The handle is
// shut down when the test ends.
func openHandle(t *testing.T, addr, topic, group string, mode Mode, commitEvery time.Duration, more ...func(*SubscriptionOptions)) *handle {
	t.Helper()
	base, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	h := &handle{dialer: &killableDialer{}}
	o := &SubscriptionOptions{
		Mode:           mode,
		Lease:          5 * time.Second,
		CommitInterval: commitEvery,
		ClientOpts: []kgo.Opt{
			kgo.Dialer(h.dialer.DialContext),
			kgo.HeartbeatInterval(100 * time.Millisecond),
			kgo.SessionTimeout(3 * time.Second),
			kgo.FetchMaxWait(200 * time.Millisecond),
		},
	}
	for _, f := range more {
		f(o)
	}
	ds, err := OpenSubscription(t.Context(), base, topic, group, o)
	if err != nil {
		base.Close()
		t.Fatalf("OpenSubscription: %v", err)
	}
	h.d = ds.(*subscription)
	if h.sub, err = mq.NewSubscription(ds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A crashed handle's deliveries can no longer be handed back.
		if err := h.sub.Shutdown(ctx); err != nil && !h.crashed {
			t.Errorf("Shutdown: %v", err)
		}
		base.Close()
	})
	return h
}

// crash kills the handle as a dying process would: its connections drop
// at once, nothing more is committed or acknowledged, and no goroutine of
// it goes on consuming. Its clients are closed (with connections allowed
// again, so that they do not hang) when the test ends.
func (h *handle) crash(t *testing.T) {
	if h.crashHook != nil {
		h.crashHook()
	}
	h.crashed = true
	h.dialer.kill()
	s := h.d
	s.mu.Lock()
	s.closed = true
	s.wakeAll()
	var ms []*member
	for _, g := range s.groups {
		if m := g.m; m != nil {
			g.m = nil
			m.closing = true
			for _, p := range m.parts {
				m.dropLocked(p)
			}
			ms = append(ms, m)
		}
	}
	var sm *shareMember
	if s.share != nil {
		if sm = s.share.m; sm != nil {
			s.share.m = nil
			sm.leaving, sm.gone = true, true
		}
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	for _, m := range ms {
		m.cancel()
		m.loops.Wait()
	}
	t.Cleanup(func() {
		h.dialer.revive()
		for _, m := range ms {
			m.cl.Close()
		}
		if sm != nil {
			sm.cl.Close()
		}
		s.stopCp()
	})
}

// provisionOne creates a topic with 3 partitions and one subscription.
func provisionOne(t *testing.T, addr string, mode Mode, name string) (topicURL, topic, group string) {
	t.Helper()
	res, err := provisioner(addr, mode)(t.Context(), conformance.Spec{Name: name, Subscriptions: 1, Lease: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Cleanup(context.Background()) })
	return res.TopicURL, name, name + "-s0"
}

// tally records which consumer handled which message.
type tally struct {
	mu     sync.Mutex
	by     map[string][]string // message body -> consumers that handled it
	detail map[string][]string // message body -> its deliveries
	ch     chan struct{}
	per    map[string]int // consumer -> messages handled
}

func newTally() *tally {
	return &tally{by: map[string][]string{}, detail: map[string][]string{}, per: map[string]int{}, ch: make(chan struct{}, 1)}
}

func (t *tally) add(consumer, body, detail string) {
	t.mu.Lock()
	t.by[body] = append(t.by[body], consumer)
	t.detail[body] = append(t.detail[body], detail)
	t.per[consumer]++
	t.mu.Unlock()
	select {
	case t.ch <- struct{}{}:
	default:
	}
}

func (t *tally) distinct() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.by)
}

// waitDistinct waits until n distinct messages were handled.
func (t *tally) waitDistinct(ctx context.Context, n int) bool {
	for t.distinct() < n {
		select {
		case <-ctx.Done():
			return false
		case <-t.ch:
		}
	}
	return true
}

// TestRebalanceLosesNothing runs three consumers of one subscription
// while messages flow; one leaves cleanly a third of the way, one is
// killed without leaving two thirds of the way. Every sent message must
// be handled, and a message may be handled twice only if a consumer that
// left or died handled it (at-least-once around the membership change).
func TestRebalanceLosesNothing(t *testing.T) {
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t)
			addr := c.addr()
			topicURL, topic, group := provisionOne(t, addr, mode, "rebalance-"+mode.String())
			const n = 900
			tl := newTally()
			start := func(name string) (*handle, *mq.Consumer, <-chan struct{}) {
				h := openHandle(t, addr, topic, group, mode, 200*time.Millisecond)
				var dead bool
				var mu sync.Mutex
				h.crashHook = func() { mu.Lock(); dead = true; mu.Unlock() }
				cons, done := runConsumer(t, h.sub, func(ctx context.Context, d *mq.Delivery) error {
					time.Sleep(time.Millisecond) // the handler's work
					mu.Lock()
					if dead {
						// A dead process does nothing more: not even fail.
						mu.Unlock()
						<-ctx.Done()
						return ctx.Err()
					}
					defer mu.Unlock()
					tl.add(name, string(d.Body), fmt.Sprintf("%s(id %s, attempt %d)", name, d.ID, d.Attempt))
					return nil
				}, mq.WithConcurrency(4), mq.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
				return h, cons, done
			}
			start("A")
			b, consB, doneB := start("B")
			c3, _, _ := start("C")

			p, err := mq.OpenProducer(t.Context(), topicURL)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			sendErr := make(chan error, 1)
			go func() {
				for i := 0; i < n; i += 30 {
					batch := make([]*mq.Message, 30)
					for j := range batch {
						batch[j] = &mq.Message{Body: fmt.Appendf(nil, "m%04d", i+j), Key: fmt.Sprintf("k%d", (i+j)%17)}
					}
					if err := p.SendBatch(t.Context(), batch); err != nil {
						sendErr <- err
						return
					}
					time.Sleep(5 * time.Millisecond) // a steady stream
				}
				sendErr <- nil
			}()

			ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
			defer cancel()
			if !tl.waitDistinct(ctx, n/3) {
				t.Fatalf("only %d messages handled before B was to leave", tl.distinct())
			}
			sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
			if err := consB.Shutdown(sctx); err != nil {
				t.Errorf("B: Consumer.Shutdown: %v", err)
			}
			<-doneB
			if err := b.sub.Shutdown(sctx); err != nil {
				t.Errorf("B: Subscription.Shutdown: %v", err)
			}
			scancel()
			t.Logf("B left cleanly after %d messages", tl.distinct())

			if !tl.waitDistinct(ctx, 2*n/3) {
				t.Fatalf("only %d messages handled before C was to die", tl.distinct())
			}
			c3.crash(t)
			t.Logf("C killed after %d messages", tl.distinct())

			if err := <-sendErr; err != nil {
				t.Fatalf("SendBatch: %v", err)
			}
			if !tl.waitDistinct(ctx, n) {
				t.Fatalf("%d of %d acknowledged sends were handled", tl.distinct(), n)
			}
			tl.mu.Lock()
			defer tl.mu.Unlock()
			dups := 0
			for body, who := range tl.by {
				if len(who) == 1 {
					continue
				}
				dups++
				byGone := false
				for _, w := range who {
					byGone = byGone || w == "B" || w == "C"
				}
				if !byGone {
					t.Errorf("%s handled %d times (%v) although no consumer that handled it left or died", body, len(who), tl.detail[body])
				}
			}
			t.Logf("handled per consumer %v; %d of %d messages handled more than once", tl.per, dups, n)
		})
	}
}

// runConsumer runs a Consumer of h over sub; done is closed when Run
// returns. The Consumer is shut down (with a short deadline: a dead
// consumer's handlers hang until it) when the test ends, unless the test
// did it first.
func runConsumer(t *testing.T, sub *mq.Subscription, h mq.Handler, opts ...mq.ConsumerOption) (*mq.Consumer, <-chan struct{}) {
	t.Helper()
	cons, err := mq.NewConsumer(sub, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cons.Run(context.Background())
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = cons.Shutdown(ctx)
		<-done
	})
	return cons, done
}

// blockingStore wraps an idempotency store: Complete records the key and
// then hangs until release is closed, so that the consumer "dies" after
// the handler's effect and its record, before the ack.
type blockingStore struct {
	mq.IdempotencyStore
	completed chan string
	release   chan struct{}
}

func (b *blockingStore) Complete(ctx context.Context, c mq.Claim) error {
	err := b.IdempotencyStore.Complete(ctx, c)
	b.completed <- c.Key
	<-b.release
	return err
}

// TestCrashRedeliversAndStoreSuppresses kills a consumer after its
// handlers ran and their keys were recorded but before anything was
// acknowledged or committed. A restarted consumer gets every message
// again, and the shared idempotency store keeps the handler from running
// a second time for those.
func TestCrashRedeliversAndStoreSuppresses(t *testing.T) {
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t)
			addr := c.addr()
			topicURL, topic, group := provisionOne(t, addr, mode, "crash-"+mode.String())
			const n = 40
			p, err := mq.OpenProducer(t.Context(), topicURL)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			msgs := make([]*mq.Message, n)
			for i := range msgs {
				msgs[i] = &mq.Message{Body: fmt.Appendf(nil, "payment %d", i), DedupID: fmt.Sprintf("pay-%d", i)}
			}
			if err := p.SendBatch(t.Context(), msgs); err != nil {
				t.Fatal(err)
			}

			shared := mq.NewMemoryIdempotencyStore(0)
			var mu sync.Mutex
			effects := map[string]int{}
			crashed := false
			// first says whether the handler runs in the first consumer,
			// which does nothing once its process is dead.
			run := func(h *handle, store mq.IdempotencyStore, concurrency int, first bool) (*mq.Consumer, <-chan struct{}) {
				return runConsumer(t, h.sub, func(ctx context.Context, d *mq.Delivery) error {
					mu.Lock()
					defer mu.Unlock()
					if first && crashed {
						return errors.New("test: the process is dead") // no effect
					}
					effects[d.DedupID]++
					return nil
				}, mq.WithIdempotency(store), mq.WithConcurrency(concurrency))
			}

			// The first consumer never commits by itself (an hour between
			// commits) and hangs after recording each key, so its
			// crashAfter handlers finish and nothing else runs.
			const crashAfter = n / 2
			first := openHandle(t, addr, topic, group, mode, time.Hour)
			bs := &blockingStore{IdempotencyStore: shared, completed: make(chan string, n), release: make(chan struct{})}
			cons1, done1 := run(first, bs, crashAfter, true)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			for range crashAfter {
				select {
				case <-bs.completed:
				case <-ctx.Done():
					t.Fatalf("the first consumer completed fewer than %d messages: %+v", crashAfter, cons1.Stats())
				}
			}
			mu.Lock()
			crashed = true
			mu.Unlock()
			first.crash(t)
			close(bs.release) // its acks now go nowhere
			sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
			_ = cons1.Shutdown(sctx)
			scancel()
			<-done1
			mu.Lock()
			before := len(effects)
			mu.Unlock()
			t.Logf("first consumer crashed after handling %d messages (%d recorded as done)", before, crashAfter)
			if before != crashAfter {
				t.Fatalf("the first consumer handled %d messages before it died, want %d", before, crashAfter)
			}

			second := openHandle(t, addr, topic, group, mode, 200*time.Millisecond)
			cons2, done2 := run(second, shared, 8, false)
			for {
				mu.Lock()
				got := len(effects)
				mu.Unlock()
				st := cons2.Stats()
				if got == n && int(st.Duplicates) >= crashAfter {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("after the crash: %d of %d messages handled, restarted consumer %+v", got, n, st)
				case <-time.After(20 * time.Millisecond):
				}
			}
			st := cons2.Stats()
			sctx, scancel = context.WithTimeout(ctx, 10*time.Second)
			if err := cons2.Shutdown(sctx); err != nil {
				t.Errorf("Consumer.Shutdown: %v", err)
			}
			scancel()
			<-done2
			mu.Lock()
			defer mu.Unlock()
			for key, k := range effects {
				if k != 1 {
					t.Errorf("the handler ran %d times for %s; the store must keep it to once", k, key)
				}
			}
			t.Logf("restarted consumer: %+v", st)
			if st.Duplicates < crashAfter {
				t.Errorf("the restarted consumer skipped %d duplicates, want at least the %d messages done before the crash", st.Duplicates, crashAfter)
			}
			if st.Received < n {
				t.Errorf("the restarted consumer received %d messages, want all %d (nothing was committed or acknowledged)", st.Received, n)
			}
		})
	}
}

// TestCrashesCountTowardMaxAttempts delivers a poison message whose
// consumer dies each time without settling it (no Nack, no Shutdown):
// the deliveries are counted across the crashes, and after MaxAttempts
// the message goes to the dead-letter topic instead of crashing the
// next consumer.
func TestCrashesCountTowardMaxAttempts(t *testing.T) {
	for _, mode := range []Mode{GroupMode, ShareMode} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t)
			addr := c.addr()
			topicURL, topic, group := provisionOne(t, addr, mode, "poison-"+mode.String())
			const maxAttempts = 3
			opts := func(o *SubscriptionOptions) {
				o.MaxAttempts = maxAttempts
				o.ClientOpts = append(o.ClientOpts, kgo.SessionTimeout(time.Second))
			}
			p, err := mq.OpenProducer(t.Context(), topicURL)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if err := p.Send(t.Context(), &mq.Message{Body: []byte("poison"), Attributes: map[string]string{"kind": "poison"}}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			for i := 1; i <= maxAttempts; i++ {
				h := openHandle(t, addr, topic, group, mode, 100*time.Millisecond, opts)
				d, err := h.sub.Receive(ctx)
				if err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
				if d.Attempt != i {
					t.Errorf("delivery %d has Attempt %d", i, d.Attempt)
				}
				h.crash(t) // the handler took the process down
			}
			// The next consumer must not get it: it is dead-lettered.
			h := openHandle(t, addr, topic, group, mode, 100*time.Millisecond, opts)
			wctx, wcancel := context.WithCancel(ctx)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				if d, err := h.sub.Receive(wctx); err == nil {
					t.Errorf("the next consumer got the message again (attempt %d) instead of it being dead-lettered", d.Attempt)
				}
			}()
			dlq, err := mq.OpenSubscription(ctx, "kafka://"+addr+"/"+topic+".dlq."+group+"?subscription=dlq-reader&start=earliest")
			if err != nil {
				t.Fatal(err)
			}
			defer dlq.Shutdown(context.Background())
			dl, err := dlq.Receive(ctx)
			if err != nil {
				t.Fatalf("no dead letter after %d crashed deliveries: %v", maxAttempts, err)
			}
			if string(dl.Body) != "poison" || dl.Attributes["kind"] != "poison" || dl.Attributes[mq.AttrAttempts] != strconv.Itoa(maxAttempts) {
				t.Errorf("dead letter %q with attributes %v, want the poison message after %d attempts", dl.Body, dl.Attributes, maxAttempts)
			}
			time.AfterFunc(time.Second, wcancel) // watch a little longer
			<-watched
		})
	}
}
