package memdriver_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// BenchmarkOrdered measures an ordered subscription with messages spread
// over 64 keys, 256-byte bodies, one op one message: "consumer" is
// publish → Consumer (concurrency 8) → ack, as BenchmarkConsumer, with the
// per-key holds of memdriver and of the Consumer in the path; "backlog"
// sends every message first (so most wait behind their key) and then 8
// receivers drain it with Receive and Ack.
func BenchmarkOrdered(b *testing.B) {
	const keys = 64
	keyOf := make([]string, keys)
	for i := range keyOf {
		keyOf[i] = "k" + strconv.Itoa(i)
	}
	b.Run("consumer", func(b *testing.B) {
		p, sub := benchPair(b, "?ordered=true")
		ctx := context.Background()
		body := make([]byte, 256)
		total := int64(b.N)
		var handled atomic.Int64
		done := make(chan struct{})
		c, err := mq.NewConsumer(sub, func(context.Context, *mq.Delivery) error {
			if handled.Add(1) == total {
				close(done)
			}
			return nil
		}, mq.WithConcurrency(8))
		if err != nil {
			b.Fatal(err)
		}
		runErr := make(chan error, 1)
		go func() { runErr <- c.Run(ctx) }()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if err := p.Send(ctx, &mq.Message{Body: body, Key: keyOf[i%keys]}); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		elapsed := time.Since(start)
		b.StopTimer()
		if err := c.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		if err := <-runErr; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	})
	b.Run("backlog", func(b *testing.B) {
		p, sub := benchPair(b, "?ordered=true")
		ctx := context.Background()
		body := make([]byte, 256)
		total := int64(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if err := p.Send(ctx, &mq.Message{Body: body, Key: keyOf[i%keys]}); err != nil {
				b.Fatal(err)
			}
		}
		var acked atomic.Int64
		var wg sync.WaitGroup
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for range 8 {
			wg.Go(func() {
				for acked.Load() < total {
					d, err := sub.Receive(cctx)
					if err != nil {
						return
					}
					if err := d.Ack(); err != nil {
						b.Error(err)
					}
					if acked.Add(1) == total {
						cancel()
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	})
}
