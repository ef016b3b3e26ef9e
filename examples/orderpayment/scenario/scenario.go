// Package scenario runs the order → payment spike: an order service
// publishes a burst of orders far above what the payment service can take,
// the payment service consumes at a bounded rate through an mq.Consumer,
// some payments fail transiently and are retried with backoff, a few orders
// are poison and end in the dead-letter destination, and some orders are
// sent twice but paid once thanks to the Consumer's idempotency store.
//
// Run checks the outcome instead of trusting it: every order that can be
// paid is paid exactly once, and every poison order is read back from the
// dead-letter destination. The URLs pick the backend, so the same scenario
// runs on any driver. It is the program behind examples/orderpayment and
// `portmq demo`.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

// Backoff is the payment service's retry backoff.
var Backoff = mq.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}

// Summary is the outcome of a run.
type Summary struct {
	Orders         int   // distinct orders
	Sent           int   // messages sent, duplicates included
	DuplicatesSent int   // orders sent a second time with the same DedupID
	Paid           int   // orders paid (each exactly once, or Run fails)
	Attempts       int64 // payment attempts: handler calls
	Retried        int64 // deliveries nacked with backoff after a failure
	PoisonOrders   int   // orders that can never be paid
	// DeadLettered counts messages read back from the dead-letter
	// destination; Permanent and MaxAttempts split them by the reason
	// recorded in mq.AttrDeadLetterReason.
	DeadLettered            int
	DeadLetteredPermanent   int
	DeadLetteredMaxAttempts int
	// DeadLetteredPaid counts dead letters of orders that were paid all the
	// same: a duplicate that was dead-lettered while its original succeeded.
	DeadLetteredPaid int
	// DuplicatesSuppressed counts deliveries the idempotency store skipped.
	DuplicatesSuppressed int64
	// MaxQueueDepth is the largest estimate of sent minus settled messages.
	MaxQueueDepth int64
	Elapsed       time.Duration
}

// Run runs the scenario described by c, printing progress once per second
// and a summary to out. It returns an error if the run could not complete
// within c.Timeout or if its checks fail: an order paid twice, an order
// that can be paid never paid, or a poison order missing from the
// dead-letter destination.
func Run(ctx context.Context, c Config, out io.Writer) (Summary, error) {
	var sum Summary
	if err := c.Validate(); err != nil {
		return sum, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	p := newPlan(c)
	sum.Orders, sum.DuplicatesSent = c.Orders, p.dups
	for _, f := range p.fates {
		if f.poison() {
			sum.PoisonOrders++
		}
	}

	// Subscriptions first: they receive only messages sent after they
	// exist.
	dlqSub, err := mq.OpenSubscription(ctx, c.DLQURL)
	if err != nil {
		return sum, fmt.Errorf("open the dead-letter subscription: %w", err)
	}
	defer shutdown(dlqSub.Shutdown)
	sub, err := mq.OpenSubscription(ctx, c.SubscriptionURL)
	if err != nil {
		return sum, fmt.Errorf("open the payments subscription: %w", err)
	}
	defer shutdown(sub.Shutdown)
	if info := sub.Info(); info.MaxAttempts == 0 || !info.HasDeadLetter {
		return sum, errors.New("the payments subscription needs max attempts and a dead-letter destination (for mem://: ?max_attempts=5&dead_letter=TOPIC)")
	}
	prod, err := mq.OpenProducer(ctx, c.ProducerURL)
	if err != nil {
		return sum, fmt.Errorf("open the orders producer: %w", err)
	}
	defer shutdown(prod.Shutdown)

	g := newGateway(p, c.Rate)
	cons, err := mq.NewConsumer(sub, g.handle,
		mq.WithConcurrency(c.Concurrency),
		mq.WithBackoff(Backoff),
		mq.WithIdempotency(mq.NewMemoryIdempotencyStore(time.Hour)),
	)
	if err != nil {
		return sum, err
	}
	rate := "unbounded"
	if c.Rate > 0 {
		rate = strconv.FormatFloat(c.Rate, 'f', -1, 64) + "/s"
	}
	fmt.Fprintf(out, "order → payment spike: %d orders in %v, payments at %s, %d at once\n", c.Orders, c.Burst, rate, c.Concurrency)
	fmt.Fprintf(out, "  orders:       %s\n  payments:     %s\n  dead letters: %s\n", c.ProducerURL, c.SubscriptionURL, c.DLQURL)

	start := time.Now()
	dl := startDeadLetterReader(ctx, dlqSub)
	var runErr error
	runDone := make(chan struct{})
	go func() { defer close(runDone); runErr = cons.Run(ctx) }()
	var sent atomic.Int64
	settled := func() int64 { st := cons.Stats(); return st.Acked + st.Duplicates + dl.count() }
	mon := startMonitor(out, start, &sent, settled, g)

	err = publish(ctx, prod, p, c.Burst, &sent)
	if err == nil {
		err = waitSettled(ctx, &sent, settled, runDone)
	}
	sum.Elapsed = time.Since(start)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	if serr := cons.Shutdown(sctx); err == nil && serr != nil {
		err = fmt.Errorf("stop the payment service: %w", serr)
	}
	<-runDone
	if err == nil && runErr != nil {
		err = fmt.Errorf("payment service: %w", runErr)
	}
	dead := dl.stop()
	sum.MaxQueueDepth = mon.stop()

	st := cons.Stats()
	sum.Sent = int(sent.Load())
	sum.Attempts, sum.Retried, sum.DuplicatesSuppressed = g.total.Load(), st.Retried, st.Duplicates
	if err != nil {
		return sum, fmt.Errorf("%w (sent %d, paid %d, dead-lettered %d, suppressed %d)", err, sum.Sent, st.Acked, len(dead), st.Duplicates)
	}
	problems := check(p, g, dead, &sum)
	sum.print(out)
	if len(problems) > 0 {
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("and %d more", len(problems)-10))
		}
		return sum, errors.New("checks failed:\n  " + strings.Join(problems, "\n  "))
	}
	fmt.Fprintln(out, "OK")
	return sum, nil
}

// publish sends the plan's messages evenly over burst, in batches.
func publish(ctx context.Context, prod *mq.Producer, p *plan, burst time.Duration, sent *atomic.Int64) error {
	const maxBatch = 500
	total := len(p.sends)
	start := time.Now()
	batch := make([]*mq.Message, 0, maxBatch)
	for k := 0; k < total; {
		due := total
		if burst > 0 {
			due = min(total, int(float64(total)*float64(time.Since(start))/float64(burst))+1)
		}
		for k < due {
			batch = batch[:0]
			for ; k < due && len(batch) < maxBatch; k++ {
				batch = append(batch, orderMessage(p.sends[k]))
			}
			if err := prod.SendBatch(ctx, batch); err != nil {
				return fmt.Errorf("send orders: %w", err)
			}
			sent.Add(int64(len(batch)))
		}
		if k < total {
			if err := sleep(ctx, 2*time.Millisecond); err != nil {
				return fmt.Errorf("send orders: %w", err)
			}
		}
	}
	return nil
}

// waitSettled waits until every sent message was paid, suppressed as a
// duplicate or read back from the dead-letter destination.
func waitSettled(ctx context.Context, sent *atomic.Int64, settled func() int64, runDone <-chan struct{}) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for settled() < sent.Load() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for payments: %w", ctx.Err())
		case <-runDone:
			return errors.New("the payment service stopped early")
		case <-t.C:
		}
	}
	return nil
}

// check proves the outcome and fills the counts of sum.
func check(p *plan, g *gateway, dead []deadLetter, sum *Summary) []string {
	var problems []string
	for i, f := range p.fates {
		switch n := g.paid[i].Load(); {
		case n > 1:
			problems = append(problems, fmt.Sprintf("order %d was paid %d times", i, n))
		case n == 1 && f.poison():
			problems = append(problems, fmt.Sprintf("poison order %d was paid", i))
		case n == 0 && !f.poison():
			problems = append(problems, fmt.Sprintf("order %d was never paid", i))
		}
		if g.paid[i].Load() > 0 {
			sum.Paid++
		}
	}
	inDLQ := make(map[int]bool, len(dead))
	for _, d := range dead {
		sum.DeadLettered++
		switch {
		case strings.HasPrefix(d.reason, "permanent"):
			sum.DeadLetteredPermanent++
		case strings.HasPrefix(d.reason, "max attempts"):
			sum.DeadLetteredMaxAttempts++
		}
		if d.order < 0 || d.order >= len(p.fates) {
			problems = append(problems, fmt.Sprintf("dead letter %q names no order", d.id))
			continue
		}
		inDLQ[d.order] = true
		if g.paid[d.order].Load() > 0 {
			sum.DeadLetteredPaid++
		}
	}
	for i, f := range p.fates {
		if f.poison() && !inDLQ[i] {
			problems = append(problems, fmt.Sprintf("poison order %d is not in the dead-letter destination", i))
		}
	}
	return problems
}

func (s *Summary) print(w io.Writer) {
	fmt.Fprintf(w, "summary\n")
	fmt.Fprintf(w, "  orders                 %7d\n", s.Orders)
	fmt.Fprintf(w, "  messages sent          %7d (%d orders sent twice)\n", s.Sent, s.DuplicatesSent)
	fmt.Fprintf(w, "  paid                   %7d (each exactly once)\n", s.Paid)
	fmt.Fprintf(w, "  payment attempts       %7d\n", s.Attempts)
	fmt.Fprintf(w, "  retried                %7d (transient failures, backoff %v..%v)\n", s.Retried, Backoff.Min, Backoff.Max)
	fmt.Fprintf(w, "  dead-lettered          %7d (read back from the DLQ: %d permanent, %d at max attempts; %d poison orders)\n",
		s.DeadLettered, s.DeadLetteredPermanent, s.DeadLetteredMaxAttempts, s.PoisonOrders)
	if s.DeadLetteredPaid > 0 {
		fmt.Fprintf(w, "                                 (%d of them duplicates of orders paid all the same)\n", s.DeadLetteredPaid)
	}
	fmt.Fprintf(w, "  duplicates suppressed  %7d\n", s.DuplicatesSuppressed)
	fmt.Fprintf(w, "  max queue depth        %7d\n", s.MaxQueueDepth)
	fmt.Fprintf(w, "  elapsed                %7.2fs\n", s.Elapsed.Seconds())
}

func shutdown(f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f(ctx)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deadLetter is one message read back from the dead-letter destination.
type deadLetter struct {
	id, reason string
	order      int
}

type deadLetterReader struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	got    []deadLetter
	n      atomic.Int64
}

// startDeadLetterReader reads and acks dead letters until stopped.
func startDeadLetterReader(ctx context.Context, sub *mq.Subscription) *deadLetterReader {
	ctx, cancel := context.WithCancel(ctx)
	r := &deadLetterReader{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			d, err := sub.Receive(ctx)
			if err != nil {
				return
			}
			order, err := strconv.Atoi(d.Attributes["order"])
			if err != nil {
				order = -1
			}
			r.mu.Lock()
			r.got = append(r.got, deadLetter{id: d.ID, reason: d.Attributes[mq.AttrDeadLetterReason], order: order})
			r.mu.Unlock()
			r.n.Add(1)
			_ = d.Ack()
		}
	}()
	return r
}

func (r *deadLetterReader) count() int64 { return r.n.Load() }

func (r *deadLetterReader) stop() []deadLetter {
	r.cancel()
	<-r.done
	return r.got
}

type monitor struct {
	stopc chan struct{}
	done  chan struct{}
	max   int64
}

// startMonitor tracks the queue depth estimate and prints a progress line
// once per second.
func startMonitor(out io.Writer, start time.Time, sent *atomic.Int64, settled func() int64, g *gateway) *monitor {
	m := &monitor{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		next := start.Add(time.Second)
		for {
			select {
			case <-m.stopc:
				return
			case now := <-t.C:
				s := sent.Load()
				depth := s - settled()
				m.max = max(m.max, depth)
				if now.Before(next) {
					continue
				}
				next = next.Add(time.Second)
				paid := 0
				for i := range g.paid {
					paid += int(g.paid[i].Load())
				}
				fmt.Fprintf(out, "[%5.1fs] sent %6d  paid %6d  attempts %6d  queue ≈ %6d\n",
					now.Sub(start).Seconds(), s, paid, g.total.Load(), max(depth, 0))
			}
		}
	}()
	return m
}

func (m *monitor) stop() int64 {
	close(m.stopc)
	<-m.done
	return m.max
}
