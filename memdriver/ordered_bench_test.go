package memdriver_test

import (
	"context"
	"strconv"
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
	key := func(i int) string { return keyOf[i%keys] }
	b.Run("consumer", func(b *testing.B) { consumerBench(b, "?ordered=true", 8, key) })
	b.Run("backlog", func(b *testing.B) {
		p, sub := benchPair(b, "?ordered=true")
		ctx := context.Background()
		body := make([]byte, 256)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			if err := p.Send(ctx, &mq.Message{Body: body, Key: key(i)}); err != nil {
				b.Fatal(err)
			}
		}
		receiveAndAck(b, sub, 8, int64(b.N))
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	})
}
