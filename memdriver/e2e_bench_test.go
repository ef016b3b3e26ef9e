package memdriver_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

var benchSeq atomic.Int64

// benchPair opens a fresh topic with one subscription through the mq API.
func benchPair(b *testing.B, params string) (*mq.Producer, *mq.Subscription) {
	b.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("bench-%d", benchSeq.Add(1))
	sub, err := mq.OpenSubscription(ctx, "mem://"+name+"/s"+params)
	if err != nil {
		b.Fatal(err)
	}
	p, err := mq.OpenProducer(ctx, "mem://"+name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = p.Shutdown(ctx)
		_ = sub.Shutdown(ctx)
	})
	return p, sub
}

// BenchmarkEndToEnd measures publish → receive → ack through the mq API
// with 256-byte bodies: one op is one message.
func BenchmarkEndToEnd(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("p%dc%d", n, n), func(b *testing.B) { endToEnd(b, n, n, "") })
	}
	// The lease kept by mq, as on RabbitMQ, Kafka and the Go CDK drivers.
	b.Run("p1c1-emulated-lease", func(b *testing.B) { endToEnd(b, 1, 1, "?emulate=lease") })
}

func endToEnd(b *testing.B, producers, consumers int, params string) {
	p, sub := benchPair(b, params)
	ctx := context.Background()
	body := make([]byte, 256)
	total := b.N
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range producers {
		n := total / producers
		if i < total%producers {
			n++
		}
		wg.Go(func() {
			for range n {
				if err := p.Send(ctx, &mq.Message{Body: body}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	receiveAndAck(b, sub, consumers, int64(total))
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
}

// BenchmarkConsumer measures publish → Consumer handler → ack: the full
// policy path (lease keeping, stats, settle) with a no-op handler.
func BenchmarkConsumer(b *testing.B) {
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("concurrency%d", conc), func(b *testing.B) { consumerBench(b, "", conc, nil) })
	}
}

// consumerBench sends b.N messages (with the key keyOf(i), if keyOf is not
// nil) to a fresh subscription opened with params, handled by a Consumer
// of concurrency conc.
func consumerBench(b *testing.B, params string, conc int, keyOf func(int) string) {
	p, sub := benchPair(b, params)
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
	}, mq.WithConcurrency(conc))
	if err != nil {
		b.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		m := &mq.Message{Body: body}
		if keyOf != nil {
			m.Key = keyOf(i)
		}
		if err := p.Send(ctx, m); err != nil {
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
}

// receiveAndAck receives and acks with consumers goroutines until total
// messages are acked.
func receiveAndAck(b *testing.B, sub *mq.Subscription, consumers int, total int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var acked atomic.Int64
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() {
			for acked.Load() < total {
				d, err := sub.Receive(ctx)
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
}

// BenchmarkLatency sends at a fixed 10 000 msg/s and reports the
// send-to-receive latency percentiles of a consumer blocked in Receive (no
// polling anywhere). One op is one message.
func BenchmarkLatency(b *testing.B) {
	const rate = 10000
	p, sub := benchPair(b, "")
	ctx := context.Background()
	n := max(b.N, 2000)
	lat := make([]time.Duration, 0, n)
	got := make(chan struct{})
	go func() {
		defer close(got)
		for range n {
			d, err := sub.Receive(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			sent := int64(binary.LittleEndian.Uint64(d.Body))
			lat = append(lat, time.Duration(time.Now().UnixNano()-sent))
			_ = d.Ack()
		}
	}()
	body := make([]byte, 256)
	interval := time.Second / rate
	b.ResetTimer()
	start := time.Now()
	for i := range n {
		next := start.Add(time.Duration(i) * interval)
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait)
		}
		binary.LittleEndian.PutUint64(body, uint64(time.Now().UnixNano()))
		if err := p.Send(ctx, &mq.Message{Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	<-got
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}
