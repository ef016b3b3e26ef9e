package mq_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// maxBatchSub is a memdriver subscription that declares a MaxBatch,
// records the size of every Ack call, and fails the Ack of the delivery
// whose body is failBody with ErrLeaseExpired.
type maxBatchSub struct {
	driver.Subscription
	ext      driver.Extender
	maxBatch int

	mu       sync.Mutex
	bodies   map[driver.AckID]string
	failBody string
	calls    []int
}

func (m *maxBatchSub) Capabilities() driver.Capabilities {
	c := m.Subscription.Capabilities()
	c.MaxBatch = m.maxBatch
	return c
}

func (m *maxBatchSub) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	m.check(len(ids))
	return m.ext.Extend(ctx, ids, lease)
}

func (m *maxBatchSub) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	n, err := m.Subscription.ReceiveBatch(ctx, dst)
	m.mu.Lock()
	for _, d := range dst[:n] {
		m.bodies[d.AckID] = string(d.Body)
	}
	m.mu.Unlock()
	return n, err
}

func (m *maxBatchSub) check(n int) {
	if n > m.maxBatch {
		panic("mq passed " + strconv.Itoa(n) + " IDs, more than MaxBatch")
	}
}

func (m *maxBatchSub) Ack(ctx context.Context, ids []driver.AckID) error {
	m.check(len(ids))
	m.mu.Lock()
	m.calls = append(m.calls, len(ids))
	fail := -1
	for i, id := range ids {
		if m.bodies[id] == m.failBody {
			fail = i
		}
	}
	m.mu.Unlock()
	if fail < 0 {
		return m.Subscription.Ack(ctx, ids)
	}
	rest := append(append([]driver.AckID(nil), ids[:fail]...), ids[fail+1:]...)
	errs := make([]error, len(ids))
	errs[fail] = driver.ErrLeaseExpired()
	if err := m.Subscription.Ack(ctx, rest); err != nil {
		return err
	}
	return &driver.BatchError{Errs: errs}
}

// TestIDCallsAreSplitByMaxBatch: mq passes a driver at most
// Capabilities.MaxBatch IDs per call: a 250-delivery AckBatch on MaxBatch
// 100 makes three driver calls (100, 100, 50), and an item error in the
// third comes back at the caller's index.
func TestIDCallsAreSplitByMaxBatch(t *testing.T) {
	ctx := t.Context()
	e := memdriver.New(nil)
	dt, err := e.OpenTopic("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.OpenSubscription("t", "s", &driver.SubscriptionConfig{Lease: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ext, ok := ds.(driver.Extender)
	if !ok {
		t.Fatal("memdriver's subscription has no Extend")
	}
	sub := &maxBatchSub{Subscription: ds, ext: ext, maxBatch: 100, bodies: map[driver.AckID]string{}}
	s, err := mq.NewSubscription(sub, mq.WithPrefetch(250))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	const n = 250
	msgs := make([]*mq.Message, n)
	for i := range msgs {
		msgs[i] = &mq.Message{Body: []byte(strconv.Itoa(i))}
	}
	if err := p.SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	dels := make([]*mq.Delivery, n)
	for i := range dels {
		if dels[i], err = s.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const failAt = 230
	sub.failBody = string(dels[failAt].Body)
	err = s.AckBatch(dels)
	var be *mq.BatchError
	if !errors.As(err, &be) || len(be.Errs) != n {
		t.Fatalf("AckBatch: %v, want a *BatchError with %d entries", err, n)
	}
	for i, e := range be.Errs {
		if (i == failAt) != (e != nil) || (e != nil && !errors.Is(e, mq.ErrLeaseExpired)) {
			t.Errorf("item %d: %v", i, e)
		}
	}
	sub.mu.Lock()
	calls := append([]int(nil), sub.calls...)
	sub.mu.Unlock()
	if len(calls) != 3 || calls[0]+calls[1]+calls[2] != n || max(calls[0], calls[1], calls[2]) != 100 || min(calls[0], calls[1], calls[2]) != 50 {
		t.Errorf("driver Ack calls of %v IDs, want 100, 100 and 50", calls)
	}
}
