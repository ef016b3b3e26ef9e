package mq

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// ctxSub is a scriptSub whose Nack honours its context, as a network
// driver's does: a canceled context hands nothing back.
type ctxSub struct {
	*scriptSub
	acking chan struct{} // gets a value when Ack is called
}

// Ack blocks until its context ends, as an ack to an unreachable broker
// does.
func (f ctxSub) Ack(ctx context.Context, _ []driver.AckID) error {
	f.acking <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func (f ctxSub) Nack(ctx context.Context, ids []driver.AckID, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.scriptSub.Nack(ctx, ids, d)
}

// Issue 12: Shutdown whose context ended while an operation was in
// progress handed buffered deliveries
// back with that canceled context, so they came back only at their lease
// end (an hour here).
func TestShutdownPastItsDeadlineHandsBackAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lease = time.Hour
		f := ctxSub{newScriptSub(driver.Capabilities{Lease: driver.Native, NackDelay: driver.Native, Delay: driver.Native}, lease), make(chan struct{}, 1)}
		s, err := NewSubscription(f, WithPrefetch(8))
		if err != nil {
			t.Fatal(err)
		}
		f.push(msgs(1, 2, 3)...)
		d, err := s.Receive(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		acked := make(chan error, 1)
		go func() { acked <- d.Ack() }() // in progress when Shutdown's deadline passes
		<-f.acking
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); Code(err) != DeadlineExceeded {
			t.Errorf("Shutdown with an ack in progress past its deadline: %v, want DeadlineExceeded", err)
		}
		if err := <-acked; err == nil {
			t.Error("the ack blocked past Shutdown's deadline succeeded")
		}
		select {
		case c := <-f.nacks:
			if !slices.Equal(c.seqs, []uint64{2, 3}) || c.d != 0 {
				t.Errorf("handed back %v with delay %v, want [2 3] at once", c.seqs, c.d)
			}
		default:
			t.Fatal("Shutdown with an ended context handed nothing back: the buffered deliveries wait for their lease to end")
		}
	})
}
