package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

// fate is how the simulated payment gateway treats an order.
type fate uint8

const (
	fateOK        fate = iota
	fateTransient      // the first attempt times out
	fatePermanent      // declined: the handler returns mq.Permanent
	fateAlways         // fails on every attempt until max attempts
)

func (f fate) poison() bool { return f == fatePermanent || f == fateAlways }

// plan is what the run will do, drawn from the seed.
type plan struct {
	fates []fate
	sends []int // order numbers in send order (duplicates appear twice)
	dups  int
}

func newPlan(c Config) *plan {
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	p := &plan{fates: make([]fate, c.Orders)}
	poison := 0
	// A duplicate goes out a little later, as a client retry after a
	// timeout would; by then the original is usually queued, not running.
	lag := max(1, c.Orders/20)
	later := make(map[int][]int)
	for i := range c.Orders {
		switch r := rng.Float64(); {
		case r < c.PoisonRate:
			p.fates[i] = fatePermanent
			if poison%2 == 1 {
				p.fates[i] = fateAlways
			}
			poison++
		case r < c.PoisonRate+c.FailRate:
			p.fates[i] = fateTransient
		}
		p.sends = append(p.sends, i)
		if rng.Float64() < c.DupRate {
			later[i+lag] = append(later[i+lag], i)
			p.dups++
		}
		p.sends = append(p.sends, later[i]...)
		delete(later, i)
	}
	for i := c.Orders; i < c.Orders+lag; i++ {
		p.sends = append(p.sends, later[i]...)
	}
	return p
}

// order is the message body the order service publishes.
type order struct {
	Order    int    `json:"order"`
	Amount   int    `json:"amount_cents"`
	Currency string `json:"currency"`
}

func orderMessage(n int) *mq.Message {
	body, _ := json.Marshal(order{Order: n, Amount: 500 + n%9500, Currency: "EUR"})
	return &mq.Message{
		Body:       body,
		Attributes: map[string]string{"order": strconv.Itoa(n), "type": "order.created"},
		DedupID:    "order-" + strconv.Itoa(n),
	}
}

var errGatewayTimeout = errors.New("payment gateway timed out")

// gateway is the payment service's side effect: it records every payment,
// so the run can prove each order was paid exactly once.
type gateway struct {
	plan  *plan
	limit *limiter
	calls []atomic.Int32 // handler calls per order
	paid  []atomic.Int32 // successful payments per order
	total atomic.Int64   // handler calls
}

func newGateway(p *plan, rate float64) *gateway {
	return &gateway{plan: p, limit: newLimiter(rate), calls: make([]atomic.Int32, len(p.fates)), paid: make([]atomic.Int32, len(p.fates))}
}

// handle is the payment service's mq.Handler.
func (g *gateway) handle(ctx context.Context, d *mq.Delivery) error {
	if err := g.limit.wait(ctx); err != nil {
		return err
	}
	g.total.Add(1)
	var o order
	if err := json.Unmarshal(d.Body, &o); err != nil || o.Order < 0 || o.Order >= len(g.plan.fates) {
		return mq.Permanent(fmt.Errorf("malformed order message %s", d.ID))
	}
	n := g.calls[o.Order].Add(1)
	switch g.plan.fates[o.Order] {
	case fatePermanent:
		return mq.Permanent(fmt.Errorf("order %d: card declined", o.Order))
	case fateAlways:
		return fmt.Errorf("order %d: gateway rejects the card number", o.Order)
	case fateTransient:
		if n == 1 {
			return errGatewayTimeout
		}
	}
	g.paid[o.Order].Add(1)
	return nil
}

// limiter spaces calls 1/rate apart, allowing a short burst after idling.
type limiter struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{interval: time.Duration(float64(time.Second) / rate)}
}

func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	const slack = 10 * time.Millisecond
	now := time.Now()
	l.mu.Lock()
	if floor := now.Add(-slack); l.next.Before(floor) {
		l.next = floor
	}
	at := l.next
	l.next = at.Add(l.interval)
	l.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
