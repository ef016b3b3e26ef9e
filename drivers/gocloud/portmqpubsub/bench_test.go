package portmqpubsub

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"
)

// BenchmarkVersusMempubsub measures publish → receive → ack of 256-byte
// messages through the Go CDK's API, on the Go CDK's own in-memory driver
// (mempubsub) and on portmq+mem:// (this adapter over memdriver), in the
// same run: each op is one message through each. It reports the
// throughput of both ("mempubsub-msgs/s", "portmq-msgs/s") and
// portmq/mempubsub ("ratio").
func BenchmarkVersusMempubsub(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("p%dc%d", n, n), func(b *testing.B) {
			var cdkTime, portmqTime time.Duration
			seq := 0
			for b.Loop() {
				b.StopTimer()
				seq++
				t1, s1 := mempubsubPair()
				t2, s2 := portmqPair(b, fmt.Sprintf("bench-p%d-%d-%d", n, seq, time.Now().UnixNano()))
				b.StartTimer()
				// b.Loop runs once per call here: each iteration moves
				// msgsPerRound messages through each.
				cdkTime += pump(b, t1, s1, n, msgsPerRound)
				portmqTime += pump(b, t2, s2, n, msgsPerRound)
				b.StopTimer()
				shut(b, t1, s1)
				shut(b, t2, s2)
				b.StartTimer()
			}
			rounds := float64(seq * msgsPerRound)
			cdk := rounds / cdkTime.Seconds()
			pm := rounds / portmqTime.Seconds()
			b.ReportMetric(cdk, "mempubsub-msgs/s")
			b.ReportMetric(pm, "portmq-msgs/s")
			b.ReportMetric(pm/cdk, "ratio")
		})
	}
}

// msgsPerRound is how many messages one benchmark iteration sends through
// each; large enough that mempubsub's 250 ms poll when idle is amortized.
const msgsPerRound = 20000

func mempubsubPair() (*pubsub.Topic, *pubsub.Subscription) {
	t := mempubsub.NewTopic()
	return t, mempubsub.NewSubscription(t, time.Minute)
}

func portmqPair(b *testing.B, name string) (*pubsub.Topic, *pubsub.Subscription) {
	ctx := context.Background()
	s, err := pubsub.OpenSubscription(ctx, "portmq+mem://"+name+"/s?visibility=1m")
	if err != nil {
		b.Fatal(err)
	}
	t, err := pubsub.OpenTopic(ctx, "portmq+mem://"+name)
	if err != nil {
		b.Fatal(err)
	}
	return t, s
}

func shut(b *testing.B, t *pubsub.Topic, s *pubsub.Subscription) {
	ctx := context.Background()
	if err := t.Shutdown(ctx); err != nil {
		b.Error(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		b.Error(err)
	}
}

// pump sends total messages with n producers and receives and acks them
// with n consumers, and returns how long it took.
func pump(b *testing.B, t *pubsub.Topic, s *pubsub.Subscription, n, total int) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body := make([]byte, 256)
	var acked atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		k := total / n
		if i < total%n {
			k++
		}
		wg.Go(func() {
			for range k {
				if err := t.Send(ctx, &pubsub.Message{Body: body}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range n {
		wg.Go(func() {
			for acked.Load() < int64(total) {
				m, err := s.Receive(ctx)
				if err != nil {
					return
				}
				m.Ack()
				if acked.Add(1) == int64(total) {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
