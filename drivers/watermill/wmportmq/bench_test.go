package wmportmq_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/portmq/portmq/drivers/watermill/wmportmq"
)

// BenchmarkVersusGochannel measures publish → receive → ack of 256-byte
// messages through Watermill's API, on Watermill's own in-memory Pub/Sub
// (gochannel, default config: Publish does not wait for acks) and on
// Watermill over portmq+mem (this package over memdriver), in the same
// run. pNcN: N goroutines publish one message per Publish call and N read
// one Subscribe channel and ack; the portmq Subscriber has Concurrency N
// (N messages out at once; gochannel has no such bound). It reports the
// throughput of both ("gochannel-msgs/s", "portmq-msgs/s") and
// portmq/gochannel ("ratio").
func BenchmarkVersusGochannel(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("p%dc%d", n, n), func(b *testing.B) {
			var gcTime, pmTime time.Duration
			rounds := 0
			for b.Loop() {
				rounds++
				b.StopTimer()
				g := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
				topic := fmt.Sprintf("bench-p%d-%d-%d", n, rounds, time.Now().UnixNano())
				pub, err := wmportmq.NewPublisher("mem://{topic}", nil)
				if err != nil {
					b.Fatal(err)
				}
				sub, err := wmportmq.NewSubscriber("mem://{topic}/{group}?visibility=1m", &wmportmq.SubscriberConfig{Concurrency: n})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				gcTime += pump(b, g, g, topic, n, benchMsgs)
				pmTime += pump(b, pub, sub, topic, n, benchMsgs)
				b.StopTimer()
				for _, c := range []interface{ Close() error }{g, pub, sub} {
					if err := c.Close(); err != nil {
						b.Error(err)
					}
				}
				b.StartTimer()
			}
			total := float64(rounds * benchMsgs)
			gc, pm := total/gcTime.Seconds(), total/pmTime.Seconds()
			b.ReportMetric(gc, "gochannel-msgs/s")
			b.ReportMetric(pm, "portmq-msgs/s")
			b.ReportMetric(pm/gc, "ratio")
		})
	}
}

// benchMsgs is how many messages one iteration moves through each.
const benchMsgs = 10000

// pump subscribes, then publishes total messages with n goroutines while n
// goroutines read the channel and ack, and returns how long publishing
// and acking took.
func pump(b *testing.B, pub message.Publisher, sub message.Subscriber, topic string, n, total int) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 256)
	var acked atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		k := total / n
		if i < total%n {
			k++
		}
		wg.Go(func() {
			for range k {
				if err := pub.Publish(topic, message.NewMessage(watermill.NewUUID(), body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range n {
		wg.Go(func() {
			for {
				select {
				case m, ok := <-ch:
					if !ok {
						return
					}
					m.Ack()
					if acked.Add(1) == int64(total) {
						close(done)
					}
				case <-done:
					return
				}
			}
		})
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("only %d of %d messages acked in a minute", acked.Load(), total)
	}
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	return elapsed
}
