package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/drivers/redis"
	"github.com/portmq/portmq/mq"
)

const (
	benchBatch = 100  // messages per XADD pipeline / SendBatch, per read and per ack
	benchBody  = 1024 // bytes per message
)

func benchBodyBytes() []byte {
	body := make([]byte, benchBody)
	for i := range body {
		body[i] = byte(i * 7)
	}
	return body
}

// benchRig holds, for one benchmark, a raw go-redis client with its own
// stream and group, and portmq handles (the driver's plain constructors on
// a client of their own) on another stream and group of the same server.
type benchRig struct {
	raw      *goredis.Client
	rawKey   string
	p        *mq.Producer
	s        *mq.Subscription
	pmStream string
}

func newBenchRig(b *testing.B, topic string, cfg mq.SubscriptionConfig) *benchRig {
	base := serverURL(b)
	pfx := prefixOf(b, base)
	setup(b, base, topic, cfg, "g")
	ctx := context.Background()
	r := &benchRig{raw: rawClient(nil), rawKey: pfx + ":raw-" + topic, pmStream: pfx + ":" + topic}
	b.Cleanup(func() { _ = r.raw.Close() })
	must(b, r.raw.XGroupCreateMkStream(ctx, r.rawKey, "g", "$").Err())
	c := rawClient(nil)
	b.Cleanup(func() { _ = c.Close() })
	dt, err := redis.OpenTopic(ctx, c, topic, &redis.TopicOptions{Prefix: pfx})
	must(b, err)
	r.p, err = mq.NewProducer(dt)
	must(b, err)
	b.Cleanup(func() { _ = r.p.Shutdown(context.Background()) })
	ds, err := redis.OpenSubscription(ctx, c, topic, "g", &redis.SubscriptionOptions{Prefix: pfx})
	must(b, err)
	r.s, err = mq.NewSubscription(ds, mq.WithPrefetch(benchBatch))
	must(b, err)
	b.Cleanup(func() { _ = r.s.Shutdown(context.Background()) })
	return r
}

// rawSend sends n messages with pipelined XADDs, benchBatch per pipeline.
func (r *benchRig) rawSend(b *testing.B, stream string, n int, body []byte) time.Duration {
	ctx := context.Background()
	start := time.Now()
	for sent := 0; sent < n; {
		k := min(benchBatch, n-sent)
		_, err := r.raw.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for range k {
				p.XAdd(ctx, &goredis.XAddArgs{Stream: stream, Values: []any{"b", body}})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		sent += k
	}
	return time.Since(start)
}

// rawConsume reads n messages with XREADGROUP COUNT benchBatch and acks
// each read with one XACK. Like portmq, which hands the application a
// []byte, it turns each body (a string in go-redis) into a []byte.
func (r *benchRig) rawConsume(b *testing.B, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	ids := make([]string, 0, benchBatch)
	bodies := make([][]byte, 0, benchBatch)
	for got := 0; got < n; {
		res, err := r.raw.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "raw", Streams: []string{r.rawKey, ">"}, Count: benchBatch, Block: time.Second}).Result()
		if err != nil {
			b.Fatal(err)
		}
		ids, bodies = ids[:0], bodies[:0]
		for _, m := range res[0].Messages {
			ids = append(ids, m.ID)
			body, _ := m.Values["b"].(string)
			bodies = append(bodies, []byte(body))
		}
		if err := r.raw.XAck(ctx, r.rawKey, "g", ids...).Err(); err != nil {
			b.Fatal(err)
		}
		got += len(ids)
		clear(bodies)
	}
	return time.Since(start)
}

func (r *benchRig) portmqSend(b *testing.B, n int, body []byte, key func(i int) string) time.Duration {
	ctx := context.Background()
	batch := make([]*mq.Message, 0, benchBatch)
	start := time.Now()
	for sent := 0; sent < n; {
		batch = batch[:0]
		for ; len(batch) < benchBatch && sent < n; sent++ {
			m := &mq.Message{Body: body}
			if key != nil {
				m.Key = key(sent)
			}
			batch = append(batch, m)
		}
		if err := r.p.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func (r *benchRig) portmqConsume(b *testing.B, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	for got := 0; got < n; {
		ds, err := r.s.ReceiveBatch(ctx, benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.s.AckBatch(ds); err != nil {
			b.Fatal(err)
		}
		got += len(ds)
	}
	return time.Since(start)
}

// trim empties both streams between phases (untimed).
func (r *benchRig) trim(b *testing.B) {
	ctx := context.Background()
	for _, k := range []string{r.rawKey, r.pmStream} {
		if err := r.raw.XTrimMaxLen(ctx, k, 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// phase accumulates messages, wall time, this process's CPU time and the
// Redis server's CPU time of one side.
type phase struct {
	n             int
	d, cpu, redis time.Duration
}

// measure runs f, which moves n messages, adding its costs to p.
func (p *phase) measure(r *benchRig, n int, f func()) {
	t, c, s := time.Now(), cpuTime(), r.serverCPU()
	f()
	p.d += time.Since(t)
	p.cpu += cpuTime() - c
	p.redis += r.serverCPU() - s
	p.n += n
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time the Redis server used so far (INFO cpu).
func (r *benchRig) serverCPU() time.Duration {
	info, err := r.raw.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

func (p *phase) rate() float64 { return float64(p.n) / p.d.Seconds() }

func perMsg(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }

// report reports the rates and their ratio, and the CPU per message of
// this process and of the server: unlike throughput on a shared machine,
// they hardly depend on the load of other processes.
func report(b *testing.B, raw, pm phase) {
	b.ReportMetric(raw.rate(), "raw-msgs/s")
	b.ReportMetric(pm.rate(), "portmq-msgs/s")
	b.ReportMetric(pm.rate()/raw.rate(), "ratio")
	b.ReportMetric(perMsg(raw.cpu, raw.n), "raw-cpu-µs/msg")
	b.ReportMetric(perMsg(pm.cpu, pm.n), "portmq-cpu-µs/msg")
	b.ReportMetric(perMsg(raw.redis, raw.n), "raw-redis-cpu-µs/msg")
	b.ReportMetric(perMsg(pm.redis, pm.n), "portmq-redis-cpu-µs/msg")
	b.ReportMetric(0, "ns/op")
}

// phases is the order of the sides: raw, portmq, portmq, raw, 16 times,
// so that drift in the load of the shared machine and server falls on
// both alike.
var phases = func() []bool {
	var o []bool
	for range 16 {
		o = append(o, false, true, true, false)
	}
	return o
}()

// BenchmarkVersusRaw compares raw go-redis and portmq doing the same work
// against the same server in the same process, on streams of their own:
// send is XADD of 1 KiB bodies in pipelines of 100 (raw) against
// Producer.SendBatch of 100; consume is XREADGROUP COUNT 100, each body
// turned into the []byte that portmq hands the application (go-redis
// reads it as a string), and one XACK of what was read (raw) against
// Subscription.ReceiveBatch(100) and AckBatch. The sides take turns in 64 phases (see phases), each moving
// at least 500 messages whatever b.N. It reports raw-msgs/s,
// portmq-msgs/s and ratio (portmq ÷ raw), and the CPU time per message of
// the client process and of the Redis server for each side.
func BenchmarkVersusRaw(b *testing.B) {
	body := benchBodyBytes()
	b.Run("send", func(b *testing.B) {
		r := newBenchRig(b, "bench-send", mq.SubscriptionConfig{})
		n := max(b.N/len(phases), 500)
		var raw, pm phase
		b.ResetTimer()
		for _, portmq := range phases {
			if portmq {
				pm.measure(r, n, func() { r.portmqSend(b, n, body, nil) })
			} else {
				raw.measure(r, n, func() { r.rawSend(b, r.rawKey, n, body) })
			}
			b.StopTimer()
			r.trim(b)
			b.StartTimer()
		}
		b.StopTimer()
		report(b, raw, pm)
	})
	b.Run("consume", func(b *testing.B) {
		r := newBenchRig(b, "bench-consume", mq.SubscriptionConfig{})
		n := max(b.N/len(phases), 500)
		var raw, pm phase
		b.ResetTimer()
		for _, portmq := range phases {
			b.StopTimer()
			if portmq {
				r.rawSend(b, r.pmStream, n, body)
			} else {
				r.rawSend(b, r.rawKey, n, body)
			}
			b.StartTimer()
			if portmq {
				pm.measure(r, n, func() { r.portmqConsume(b, n) })
			} else {
				raw.measure(r, n, func() { r.rawConsume(b, n) })
			}
		}
		b.StopTimer()
		report(b, raw, pm)
	})
}

// BenchmarkOrdering measures what per-key ordering costs: the same
// portmq send, receive and ack loop on an unordered subscription and on an
// ordered one, with messages spread over keys keys. On the ordered
// subscription a receive admits at most one message per key (one script
// per read); the others wait, parked in a list of their key, until the
// key's message in flight is acked and the ack's script moves the next one
// to the retry stream. It reports unordered-msgs/s, ordered-msgs/s and
// ratio (ordered ÷ unordered).
func BenchmarkOrdering(b *testing.B) {
	body := benchBodyBytes()
	for _, keys := range []int{16, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			un := newBenchRig(b, "bench-unordered", mq.SubscriptionConfig{})
			or := newBenchRig(b, "bench-ordered", mq.SubscriptionConfig{Ordered: true})
			if !or.s.Info().Ordered {
				b.Fatal("the ordered subscription is not ordered")
			}
			key := func(i int) string { return fmt.Sprintf("k%d", i%keys) }
			n := max(b.N/len(phases), 500)
			var tu, to time.Duration
			b.ResetTimer()
			for _, ordered := range phases {
				r, d := un, &tu
				if ordered {
					r, d = or, &to
				}
				start := time.Now()
				r.portmqSend(b, n, body, key)
				r.portmqConsume(b, n)
				*d += time.Since(start)
			}
			b.StopTimer()
			m := float64(n * len(phases) / 2)
			b.ReportMetric(m/tu.Seconds(), "unordered-msgs/s")
			b.ReportMetric(m/to.Seconds(), "ordered-msgs/s")
			b.ReportMetric(tu.Seconds()/to.Seconds(), "ratio")
			b.ReportMetric(0, "ns/op")
		})
	}
}
