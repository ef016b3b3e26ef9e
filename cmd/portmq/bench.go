package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/portmq/portmq/mq"
)

var benchCmd = &command{
	name:    "bench",
	args:    "[flags] URL",
	summary: "measure throughput and latency of a backend through portmq",
	about: `Bench measures what a backend does through portmq: -producers
producers, each with its own connection, send -size byte messages for
-duration or until -count messages were sent, at most -rate a second in
all; -consumers consumers, each with its own connection, receive and ack
them.

Each producer keeps -inflight messages in flight: sent and not yet
confirmed by the broker (publisher confirm, acks=all, HTTP 200). It runs
-inflight/-batch senders at once, each calling Send for one message
(-batch 1) or SendBatch for -batch, and the next call as soon as its last
returned. A broker with confirms runs at speed only with a window of
confirms outstanding: one Send at a time waits a round trip and a disk
write per message. The default is a window of 500 messages, the RabbitMQ
driver's (max_in_flight), except on mem://, whose Send returns at once: one
sender, as more would only contend for the CPUs. Consumers use Receive and
Ack, or ReceiveBatch and AckBatch of -batch; -prefetch sets how many the
subscription holds ahead.

On a terminal a progress line shows the rates, the messages unconfirmed
(in Send calls), in flight (sent, not yet received) and the errors. At the
end it prints a table: messages sent and received, the rates, and the
latency of sends (the Send or SendBatch call, start to return: the
broker's confirm) and end to end (the start of the Send call to the return
of Receive, on one monotonic clock), at p50, p90, p99, p99.9 and max, from
log-linear (HDR) histograms of 0.8% resolution. -json prints it as one
JSON object instead. Without -rate, producers that outpace the consumers
fill the queue, and the end-to-end latency is the time spent in it: give
-rate below the throughput to measure latency.

URL names the backend, as for "portmq conformance": bench creates a fresh
topic and subscription through its mq.Admin and deletes them at the end,
for every scheme the conformance command knows (mem, amqp, kafka, sqs, sns,
redis, postgres, gcppubsub). For other schemes give -topic-url and -subscription-url
templates, with {name} and {sub} where the names go: opening creates what
the driver creates, and it is not deleted.

The drivers' own benchmarks, to compare with (README, Benchmarks): mem's
BenchmarkEndToEnd/p1c1 (256-byte bodies, one Send at a time, receive and
ack) is "bench mem:// -size 256 -count 1000000", and p8c8 the same with
-producers 8 -consumers 8. drivers/rabbitmq's BenchmarkVersusRaw/send
(1 KiB bodies, a window of 500 confirms, no consumer) is "bench URL
-consumers 0"; -batch 100 costs less client CPU per message, as the one
large SendBatch of that benchmark does. Its consume phase reads a filled
queue, which bench does not do: bench sends and consumes at once. Compare
also with rabbitmq-perf-test -x P -y C -s SIZE -c 500 or
kafka-producer-perf-test: both use one connection per producer and
consumer, as bench does.`,
	example: `  portmq bench mem:// -count 100000
  portmq bench 'amqp://guest:guest@localhost/' -producers 2 -consumers 2 -size 1024 -duration 30s
  portmq bench 'amqp://guest:guest@localhost/' -consumers 0 -duration 30s
  portmq bench 'amqp://guest:guest@localhost/' -batch 100 -inflight 1000 -rate 20000 -json
  portmq bench 'kafka://localhost:9092/' -producers 4 -consumers 4 -batch 100
  portmq bench 'watermill+amqp://' -topic-url 'watermill+amqp://{name}' -subscription-url 'watermill+amqp://{name}?subscription={sub}'`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		var o benchOptions
		fs.IntVar(&o.producers, "producers", 1, "producers, each with its own connection")
		fs.IntVar(&o.consumers, "consumers", 1, "consumers, each with its own connection")
		fs.IntVar(&o.size, "size", 1024, "message body `bytes` (at least 16: a run ID and the send time)")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "send for this long (unless -count)")
		fs.IntVar(&o.count, "count", 0, "send this many messages in all, then stop (0: run for -duration)")
		fs.Float64Var(&o.rate, "rate", 0, "send at most this many messages a `second` in all (0: no limit)")
		fs.IntVar(&o.batch, "batch", 1, "messages per SendBatch and ReceiveBatch (1: Send and Receive)")
		fs.IntVar(&o.inflight, "inflight", 0, "`messages` each producer keeps in flight (sent, not yet confirmed), in -inflight/-batch\nconcurrent Send or SendBatch calls; a multiple of -batch (default: 1 batch on mem://,\nelse 500 rounded down to a multiple of -batch, at least 1 batch)")
		fs.IntVar(&o.prefetch, "prefetch", 0, "subscription prefetch (0: mq's default)")
		fs.DurationVar(&o.drain, "drain", 30*time.Second, "after sending, wait this long at most for the rest to arrive")
		o.scratch.define(fs)
		asJSON := fs.Bool("json", false, "print the result as one JSON object")
		return func(ctx context.Context, e *env, args []string) int {
			switch {
			case len(args) != 1:
				return e.usageError("want exactly one URL, got %d arguments", len(args))
			case o.producers < 1 || o.consumers < 0:
				return e.usageError("-producers must be at least 1 and -consumers not negative")
			case o.size < 16:
				return e.usageError("-size must be at least 16")
			case o.count < 0 || o.rate < 0 || o.duration <= 0 || o.drain < 0 || o.prefetch < 0:
				return e.usageError("-count, -rate, -drain and -prefetch must not be negative, -duration must be positive")
			case o.batch < 1 || o.batch > maxBenchBatch:
				return e.usageError("-batch must be 1 to %d", maxBenchBatch)
			case !isSet(fs, "inflight"):
				o.inflight = defaultInflight(args[0], o.batch)
			case o.inflight < 1 || o.inflight > maxInflight:
				return e.usageError("-inflight must be 1 to %d, got %d", maxInflight, o.inflight)
			case o.inflight%o.batch != 0:
				return e.usageError("-inflight %d is not a multiple of -batch %d: a producer keeps -inflight/-batch whole batches in flight", o.inflight, o.batch)
			}
			if err := o.scratch.check(); err != nil {
				return e.usageError("%v", err)
			}
			res, err := bench(ctx, e, args[0], o)
			if res != nil {
				if *asJSON {
					writeJSON(e.stdout, res.json())
				} else {
					res.print(e)
				}
			}
			if err != nil {
				return e.fail(err)
			}
			if res.Lost > 0 {
				return e.fail(fmt.Errorf("%d messages sent were not received within -drain %v", res.Lost, o.drain))
			}
			return exitOK
		}
	},
}

const (
	// windowInflight is the messages a producer keeps in flight on a
	// broker unless told: the RabbitMQ driver's window of unconfirmed
	// messages (rabbitmq.DefaultMaxInFlight), which its BenchmarkVersusRaw
	// keeps full.
	windowInflight = 500
	maxInflight    = 100000
	maxBenchBatch  = 10000
)

// defaultInflight is -inflight when not given: one batch on mem://,
// whose Send returns without a round trip, so that more senders would
// only contend for the CPUs (memdriver's BenchmarkEndToEnd sends from one
// goroutine); elsewhere windowInflight rounded down to whole batches, and
// at least one, so that the wait for each confirm overlaps the others.
func defaultInflight(rawURL string, batch int) int {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme == "mem" {
		return batch
	}
	return max(windowInflight/batch, 1) * batch
}

type benchOptions struct {
	producers, consumers, size, count, batch, inflight, prefetch int
	duration, drain                                              time.Duration
	rate                                                         float64
	scratch                                                      scratchFlags
}

type benchResult struct {
	URL, Subscription            string
	Producers, Consumers, Size   int
	Batch, Inflight              int
	Sent, Received, Lost, Errors int64
	Foreign                      int64 // received messages of another run
	SendTime, Elapsed            time.Duration
	sendLat, e2eLat              histogram
}

func (r *benchResult) print(e *env) {
	fmt.Fprintf(e.stdout, "bench %s: %d producers, %d consumers, %d-byte bodies, batch %d, %d in flight per producer\n",
		r.URL, r.Producers, r.Consumers, r.Size, r.Batch, r.Inflight)
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tmessages\tmsgs/s\tp50\tp90\tp99\tp99.9\tmax\t\n")
	row := func(name string, n int64, d time.Duration, h *histogram) {
		rate := 0.0
		if d > 0 {
			rate = float64(n) / d.Seconds()
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", name, n, rate,
			round(h.quantile(.5)), round(h.quantile(.9)), round(h.quantile(.99)), round(h.quantile(.999)), round(h.quantile(1)))
	}
	row("send", r.Sent, r.SendTime, &r.sendLat)
	row("end-to-end", r.Received, r.Elapsed, &r.e2eLat)
	tw.Flush()
	fmt.Fprintf(e.stdout, "lost %d, errors %d, elapsed %v\n", r.Lost, r.Errors, round(r.Elapsed))
}

// round keeps three significant digits.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

type jsonLatency struct {
	P50, P90, P99, P999, Max, Mean float64 // milliseconds
}

func latency(h *histogram) jsonLatency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return jsonLatency{ms(h.quantile(.5)), ms(h.quantile(.9)), ms(h.quantile(.99)), ms(h.quantile(.999)), ms(h.quantile(1)), ms(h.mean())}
}

func (r *benchResult) json() any {
	rate := func(n int64, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	return struct {
		URL           string      `json:"url"`
		Subscription  string      `json:"subscription_url"`
		Producers     int         `json:"producers"`
		Consumers     int         `json:"consumers"`
		Size          int         `json:"size"`
		Batch         int         `json:"batch"`
		Inflight      int         `json:"inflight"`
		Sent          int64       `json:"sent"`
		Received      int64       `json:"received"`
		Lost          int64       `json:"lost"`
		Errors        int64       `json:"errors"`
		Foreign       int64       `json:"foreign,omitempty"`
		SendRate      float64     `json:"send_msgs_per_s"`
		ReceiveRate   float64     `json:"receive_msgs_per_s"`
		SendLatencyMs jsonLatency `json:"send_latency_ms"`
		E2ELatencyMs  jsonLatency `json:"end_to_end_latency_ms"`
		ElapsedS      float64     `json:"elapsed_s"`
	}{r.URL, r.Subscription, r.Producers, r.Consumers, r.Size, r.Batch, r.Inflight, r.Sent, r.Received, r.Lost, r.Errors, r.Foreign,
		rate(r.Sent, r.SendTime), rate(r.Received, r.Elapsed), latency(&r.sendLat), latency(&r.e2eLat), r.Elapsed.Seconds()}
}

// bench runs the benchmark. It returns a result whenever messages were
// sent, with an error if the run failed.
func bench(ctx context.Context, e *env, base string, o benchOptions) (res *benchResult, err error) {
	s, err := provision(ctx, base, o.scratch, "portmq-bench", 30*time.Second, 0)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := s.release(ctx); err == nil && rerr != nil {
			err = fmt.Errorf("cleaning up: %w", rerr)
		}
	}()
	res = &benchResult{URL: shown(base), Producers: o.producers, Consumers: o.consumers, Size: o.size, Batch: o.batch, Inflight: o.inflight, Subscription: shown(s.subURL)}
	runID := rand.Uint64()

	var subOpts []mq.SubscriptionOption
	if o.prefetch > 0 {
		subOpts = append(subOpts, mq.WithPrefetch(o.prefetch))
	}
	subs := make([]*mq.Subscription, 0, o.consumers)
	prods := make([]*mq.Producer, 0, o.producers)
	defer func() {
		sctx, cancel := shutdownContext(ctx)
		defer cancel()
		for _, p := range prods {
			_ = p.Shutdown(sctx)
		}
		for _, sub := range subs {
			_ = sub.Shutdown(sctx)
		}
	}()
	for range o.consumers {
		sub, err := mq.OpenSubscription(ctx, s.subURL, subOpts...)
		if err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	for range o.producers {
		p, err := mq.OpenProducer(ctx, s.prodURL)
		if err != nil {
			return nil, err
		}
		prods = append(prods, p)
	}

	// sent counts the messages confirmed, unconfirmed those in Send and
	// SendBatch calls not yet returned.
	var sent, unconfirmed, received, errs, foreign, claimed atomic.Int64
	start := time.Now()
	prog := startProgress(e.stderr, func(d time.Duration) string {
		k, r := sent.Load(), received.Load()
		return fmt.Sprintf("%5.0fs  sent %d (%.0f/s)  received %d (%.0f/s)  unconfirmed %d  in flight %d  errors %d",
			d.Seconds(), k, float64(k)/d.Seconds(), r, float64(r)/d.Seconds(), unconfirmed.Load(), k-r, errs.Load())
	})
	defer prog.Stop()

	// Consumers run until stopRecv is cancelled.
	recvCtx, stopRecv := context.WithCancel(ctx)
	defer stopRecv()
	e2e := make([]histogram, len(subs))
	var cwg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errs.Add(1)
		errOnce.Do(func() { firstErr = err })
	}
	for i, sub := range subs {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			h := &e2e[i]
			for recvCtx.Err() == nil {
				var ds []*mq.Delivery
				var err error
				if o.batch == 1 {
					var d *mq.Delivery
					if d, err = sub.Receive(recvCtx); err == nil {
						ds = []*mq.Delivery{d}
					}
				} else {
					ds, err = sub.ReceiveBatch(recvCtx, o.batch)
				}
				now := time.Since(start)
				if err != nil {
					if recvCtx.Err() == nil {
						fail(err)
					}
					continue
				}
				for _, d := range ds {
					if len(d.Body) < 16 || binary.LittleEndian.Uint64(d.Body) != runID {
						foreign.Add(1)
						continue
					}
					h.record(now - time.Duration(binary.LittleEndian.Uint64(d.Body[8:])))
				}
				if o.batch == 1 {
					err = ds[0].Ack()
				} else {
					err = sub.AckBatch(ds)
				}
				if err != nil {
					fail(err)
				}
				received.Add(int64(len(ds)))
			}
		}()
	}

	// Each producer runs o.inflight/o.batch senders, each a loop of Send
	// or SendBatch calls, so that o.inflight messages wait for the
	// broker's confirms at a time, as a driver's window keeps them
	// (rabbitmq.DefaultMaxInFlight). Senders claim messages from the count
	// (if any) until the time is up. Only the pacing wait sees the end of
	// the time: a send in progress completes, so that every message the
	// backend took is counted.
	paceCtx, stopPace := context.WithCancel(ctx)
	if o.count == 0 {
		paceCtx, stopPace = context.WithTimeout(ctx, o.duration)
	}
	defer stopPace()
	pace := newPacer(o.rate)
	sendLat := make([]lockedHistogram, len(prods))
	var pwg sync.WaitGroup
	for i, p := range prods {
		for range o.inflight / o.batch {
			pwg.Go(func() {
				h := &sendLat[i]
				// The caller may reuse a Body once Send returned: each
				// sender stamps the same bodies for every call.
				msgs := make([]*mq.Message, o.batch)
				for j := range msgs {
					msgs[j] = &mq.Message{Body: make([]byte, o.size)}
					binary.LittleEndian.PutUint64(msgs[j].Body, runID)
				}
				for paceCtx.Err() == nil {
					k, err := pace.take(paceCtx, o.batch)
					if err != nil {
						return
					}
					if o.count > 0 {
						c := claimed.Add(int64(k))
						if over := c - int64(o.count); over > 0 {
							k -= int(over)
							if k <= 0 {
								return
							}
						}
					}
					batch := msgs[:k]
					// The send time is the start of the call, as a caller
					// of Send sees it; the stamp is monotonic, since start.
					t0 := time.Now()
					stamp := uint64(t0.Sub(start))
					for _, m := range batch {
						binary.LittleEndian.PutUint64(m.Body[8:], stamp)
						m.ID = ""
					}
					unconfirmed.Add(int64(k))
					if k == 1 {
						err = p.Send(ctx, batch[0])
					} else {
						err = p.SendBatch(ctx, batch)
					}
					d := time.Since(t0)
					unconfirmed.Add(-int64(k))
					ok := 0
					for _, m := range batch {
						if m.ID != "" {
							ok++
						}
					}
					h.recordN(d, ok)
					sent.Add(int64(ok))
					if err != nil && ctx.Err() == nil {
						fail(err)
					}
				}
			})
		}
	}
	pwg.Wait()
	res.SendTime = time.Since(start)

	// Drain: wait for every sent message, at most o.drain.
	if len(subs) > 0 {
		deadline := time.Now().Add(o.drain)
		t := time.NewTicker(5 * time.Millisecond)
		for received.Load()-foreign.Load() < sent.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
			<-t.C
		}
		t.Stop()
	}
	res.Elapsed = time.Since(start)
	stopRecv()
	cwg.Wait()
	prog.Stop()

	for i := range sendLat {
		res.sendLat.merge(&sendLat[i].h)
	}
	for i := range e2e {
		res.e2eLat.merge(&e2e[i])
	}
	res.Sent, res.Errors, res.Foreign = sent.Load(), errs.Load(), foreign.Load()
	res.Received = received.Load() - res.Foreign
	if len(subs) > 0 {
		res.Lost = max(res.Sent-res.Received, 0)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if firstErr != nil {
		return res, fmt.Errorf("%d errors, the first: %w", res.Errors, firstErr)
	}
	return res, nil
}
