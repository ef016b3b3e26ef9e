package memdriver

import (
	"context"
	"sync"
	"testing"

	"github.com/portmq/portmq/mq/driver"
)

// BenchmarkEngine measures one message's way through the driver: SendBatch
// of one 256 B message, ReceiveBatch, Ack.
func BenchmarkEngine(b *testing.B) {
	ctx := context.Background()
	e := New(nil)
	tp, _ := e.OpenTopic("bench", nil)
	s, _ := e.OpenSubscription("bench", "s", nil, nil)
	defer tp.Close()
	defer s.Close()
	body := make([]byte, 256)
	msgs := make([]driver.Message, 1)
	dst := make([]driver.Message, 1)
	ids := make([]driver.AckID, 1)
	b.ReportAllocs()
	for b.Loop() {
		msgs[0] = driver.Message{Body: body}
		if err := tp.SendBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		if n, err := s.ReceiveBatch(ctx, dst); n != 1 || err != nil {
			b.Fatal(n, err)
		}
		ids[0] = dst[0].AckID
		if err := s.Ack(ctx, ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkEngineParallel runs producers and consumers on their own
// goroutines (8 of each), receiving and acking in batches of up to 64.
func BenchmarkEngineParallel(b *testing.B) {
	const workers = 8
	ctx := context.Background()
	e := New(nil)
	s0, _ := e.OpenSubscription("bench", "s", nil, nil)
	defer s0.Close()
	body := make([]byte, 256)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / workers
	for w := range workers {
		n := per
		if w == 0 {
			n += b.N % workers
		}
		wg.Go(func() {
			tp, _ := e.OpenTopic("bench", nil)
			defer tp.Close()
			msgs := make([]driver.Message, 1)
			for range n {
				msgs[0] = driver.Message{Body: body}
				if err := tp.SendBatch(ctx, msgs); err != nil {
					b.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			s, _ := e.OpenSubscription("bench", "s", nil, nil)
			defer s.Close()
			dst := make([]driver.Message, 64)
			ids := make([]driver.AckID, 64)
			for got := 0; got < n; {
				k, err := s.ReceiveBatch(ctx, dst[:min(64, n-got)])
				if err != nil {
					b.Error(err)
					return
				}
				for i := range k {
					ids[i] = dst[i].AckID
				}
				if err := s.Ack(ctx, ids[:k]); err != nil {
					b.Error(err)
					return
				}
				got += k
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
