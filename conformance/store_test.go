package conformance_test

import (
	"context"
	"testing"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

func TestMemoryIdempotencyStore(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	conformance.RunIdempotencyStore(t, conformance.StoreHarness{
		Name: "memory",
		New: func(_ context.Context, retention time.Duration) (mq.IdempotencyStore, error) {
			s := mq.NewMemoryIdempotencyStore(retention)
			s.SetClock(clk)
			return s, nil
		},
		Wait: clk.Advance,
	})
}
