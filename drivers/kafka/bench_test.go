package kafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq"
)

// BenchmarkVersusRaw compares portmq with raw franz-go doing the same
// work against the same kfake cluster in this process, with 1 KiB
// records of random bytes (1000 distinct bodies), which compression
// cannot shrink, so a fetch carries what 1 KiB records weigh:
//
//   - produce: batches of 1000 records with acks=all (idempotent
//     producer, no linger, as portmq's URLs set), waiting for each batch
//     to be acknowledged; portmq: Producer.SendBatch of the same batches.
//   - consume: a consumer group reading the records and committing
//     (autocommit every second, a final commit at the end); portmq: a
//     Subscription's ReceiveBatch with an Ack per message (offsets
//     committed every second and at the end). Both times include joining
//     and leaving the group.
//   - pipeline: the two at once, as an application runs them: a producer
//     sending the batches while a consumer (as above) reads them; the
//     rate is the records over the time until both are done (their
//     clients are set up before the clock starts).
//   - consume-compressible: consume, with bodies of one repeating
//     pattern that snappy shrinks about 200-fold, so that one fetch
//     brings the whole topic; nothing overlaps portmq's work per record
//     (Receive, Ack, lease) then, and that work is what this measures.
//
// Each round uses a topic of its own, and the raw and the portmq side
// take turns going first. Each reports raw-msgs/s, portmq-msgs/s and
// ratio (portmq / raw).
func BenchmarkVersusRaw(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	seed, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer seed.Close()
	adm := kadm.NewClient(seed)
	const batch, perRound = 1000, 50000
	body := make([][]byte, batch)
	gen := rand.NewChaCha8([32]byte{7})
	for i := range body {
		body[i] = make([]byte, 1024)
		_, _ = gen.Read(body[i])
	}
	var round atomic.Int64
	// Each round writes a topic of its own and deletes it when done:
	// kfake keeps every record in this process's memory, and a heap
	// that grows by 50 MiB a round makes fetches stall for tens of
	// milliseconds at random, on either side.
	newTopic := func(b *testing.B) string {
		name := fmt.Sprintf("bench-%d", round.Add(1))
		if _, err := adm.CreateTopic(context.Background(), 3, 1, nil, name); err != nil {
			b.Fatal(err)
		}
		return name
	}
	dropTopics := func(names ...string) { _, _ = adm.DeleteTopics(context.Background(), names...) }

	b.Run("produce", func(b *testing.B) {
		var raw, pmq time.Duration
		for i := range b.N {
			rt, pt := newTopic(b), newTopic(b)
			inTurn(i, func() { raw += rawProduce(b, addr, rt, body, perRound, batch, nop) },
				func() { pmq += portmqProduce(b, addr, pt, body, perRound, batch, nop) })
			dropTopics(rt, pt)
		}
		report(b, raw, pmq, b.N*perRound)
	})
	b.Run("pipeline", func(b *testing.B) {
		var raw, pmq time.Duration
		for i := range b.N {
			rt, pt := newTopic(b), newTopic(b)
			inTurn(i, func() {
				raw += pipeline(func(ready func()) { rawProduce(b, addr, rt, body, perRound, batch, ready) },
					func(ready func()) { rawConsume(b, addr, rt, perRound, ready) })
			}, func() {
				pmq += pipeline(func(ready func()) { portmqProduce(b, addr, pt, body, perRound, batch, ready) },
					func(ready func()) { portmqConsume(b, addr, pt, perRound, ready) })
			})
			dropTopics(rt, pt)
		}
		report(b, raw, pmq, b.N*perRound)
	})
	consume := func(body [][]byte) func(b *testing.B) {
		return func(b *testing.B) {
			var raw, pmq time.Duration
			for i := range b.N {
				t := newTopic(b)
				b.StopTimer()
				rawProduce(b, addr, t, body, perRound, batch, nop)
				b.StartTimer()
				inTurn(i, func() { raw += rawConsume(b, addr, t, perRound, nop) },
					func() { pmq += portmqConsume(b, addr, t, perRound, nop) })
				dropTopics(t)
			}
			report(b, raw, pmq, b.N*perRound)
		}
	}
	b.Run("consume", consume(body))
	pattern := make([]byte, 1024)
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	b.Run("consume-compressible", consume(slices.Repeat([][]byte{pattern}, batch)))
}

// inTurn runs the raw and the portmq side of round i one after the
// other, raw first in even rounds and portmq first in odd ones, so that
// neither always runs on the heap or the cluster state the other left.
func inTurn(i int, raw, pmq func()) {
	if i%2 == 0 {
		raw()
		pmq()
	} else {
		pmq()
		raw()
	}
}

func nop() {}

// pipeline runs produce and consume at once, each with its client set
// up, and returns the time until both are done.
func pipeline(produce, consume func(ready func())) time.Duration {
	var setUp, done sync.WaitGroup
	begin := make(chan struct{})
	ready := func() { setUp.Done(); <-begin }
	setUp.Add(2)
	done.Go(func() { produce(ready) })
	done.Go(func() { consume(ready) })
	setUp.Wait()
	start := time.Now()
	close(begin)
	done.Wait()
	return time.Since(start)
}

func report(b *testing.B, raw, pmq time.Duration, n int) {
	rawRate := float64(n) / raw.Seconds()
	pmqRate := float64(n) / pmq.Seconds()
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(pmqRate, "portmq-msgs/s")
	b.ReportMetric(pmqRate/rawRate, "ratio")
}

func rawProduce(b *testing.B, addr, topic string, body [][]byte, n, batch int, ready func()) time.Duration {
	// The same batching as portmq's producer: no linger.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: body[0]}).FirstErr(); err != nil {
		b.Fatal(err) // warm up: producer ID, metadata, connections
	}
	ready()
	start := time.Now()
	for sent := 0; sent < n; sent += batch {
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		wg.Add(batch)
		for i := range batch {
			cl.Produce(context.Background(), &kgo.Record{Value: body[i]}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(&err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		if p := failed.Load(); p != nil {
			b.Fatal(*p)
		}
	}
	return time.Since(start)
}

func portmqProduce(b *testing.B, addr, topic string, body [][]byte, n, batch int, ready func()) time.Duration {
	ctx := context.Background()
	p, err := mq.OpenProducer(ctx, "kafka://"+addr+"/"+topic)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(ctx)
	if err := p.Send(ctx, &mq.Message{Body: body[0]}); err != nil {
		b.Fatal(err)
	}
	msgs := make([]*mq.Message, batch)
	ready()
	start := time.Now()
	for sent := 0; sent < n; sent += batch {
		for i := range msgs {
			msgs[i] = &mq.Message{Body: body[i]}
		}
		if err := p.SendBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func rawConsume(b *testing.B, addr, topic string, n int, ready func()) time.Duration {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(topic+"-raw"+time.Now().String()), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AutoCommitInterval(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ready()
	start := time.Now()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		b.Fatal(err)
	}
	cl.Close() // leaves the group, as Shutdown does below
	return time.Since(start)
}

func portmqConsume(b *testing.B, addr, topic string, n int, ready func()) time.Duration {
	ctx := context.Background()
	sub, err := mq.OpenSubscription(ctx, "kafka://"+addr+"/"+topic+"?subscription="+topic+"-portmq&start=earliest",
		mq.WithPrefetch(500))
	if err != nil {
		b.Fatal(err)
	}
	ready()
	start := time.Now()
	got := 0
	for got < n {
		ds, err := sub.ReceiveBatch(ctx, 500)
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range ds {
			if err := d.Ack(); err != nil {
				b.Fatal(err)
			}
		}
		got += len(ds)
	}
	if err := sub.Shutdown(ctx); err != nil { // commits what was acked
		b.Fatal(err)
	}
	return time.Since(start)
}
