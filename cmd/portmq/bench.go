package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
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
	about: `Bench measures what a backend does through portmq: -producers goroutines,
each with its own Producer, send -size byte messages (one Send each, or
SendBatch of -batch) for -duration or until -count messages were sent, at
most -rate a second in all; -consumers goroutines, each with its own
Subscription, receive and ack them (ReceiveBatch and AckBatch with -batch).
On a terminal a progress line shows the rates, the messages in flight and
the errors. At the end it prints a table: messages sent and received, the
rates, and the latency of sends (Send or SendBatch returning: the broker's
confirm) and end to end (send to receive) at p50, p90, p99, p99.9 and max,
from log-linear histograms with 0.8% resolution. -json prints it as one
JSON object instead.

URL names the backend, as for "portmq conformance": bench creates a fresh
topic and subscription through its mq.Admin and deletes them at the end,
for every scheme the conformance command knows (mem, amqp, kafka, sqs, sns,
redis, gcppubsub). For other schemes give -topic-url and -subscription-url
templates, with {name} and {sub} where the names go: opening creates what
the driver creates, and it is not deleted.

Compare the figures with rabbitmq-perf-test -x P -y C -s SIZE or
kafka-producer-perf-test: both use one connection per producer and
consumer, as bench does.`,
	example: `  portmq bench mem:// -count 100000
  portmq bench 'amqp://guest:guest@localhost/' -producers 2 -consumers 2 -size 1024 -duration 30s
  portmq bench 'amqp://guest:guest@localhost/' -batch 100 -rate 20000 -json
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
			case o.batch < 1 || o.batch > 10000:
				return e.usageError("-batch must be 1 to 10000")
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

type benchOptions struct {
	producers, consumers, size, count, batch, prefetch int
	duration, drain                                    time.Duration
	rate                                               float64
	scratch                                            scratchFlags
}

type benchResult struct {
	URL, Subscription            string
	Producers, Consumers, Size   int
	Batch                        int
	Sent, Received, Lost, Errors int64
	Foreign                      int64 // received messages of another run
	SendTime, Elapsed            time.Duration
	sendLat, e2eLat              histogram
}

func (r *benchResult) print(e *env) {
	fmt.Fprintf(e.stdout, "bench %s: %d producers, %d consumers, %d-byte bodies, batch %d\n", r.URL, r.Producers, r.Consumers, r.Size, r.Batch)
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
	}{r.URL, r.Subscription, r.Producers, r.Consumers, r.Size, r.Batch, r.Sent, r.Received, r.Lost, r.Errors, r.Foreign,
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
	res = &benchResult{URL: shown(base), Producers: o.producers, Consumers: o.consumers, Size: o.size, Batch: o.batch, Subscription: shown(s.subURL)}
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

	var sent, received, errs, foreign, claimed atomic.Int64
	start := time.Now()
	prog := startProgress(e.stderr, func(d time.Duration) string {
		k, r := sent.Load(), received.Load()
		return fmt.Sprintf("%5.0fs  sent %d (%.0f/s)  received %d (%.0f/s)  in flight %d  errors %d",
			d.Seconds(), k, float64(k)/d.Seconds(), r, float64(r)/d.Seconds(), k-r, errs.Load())
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
				now := time.Now()
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
					h.record(now.Sub(time.Unix(0, int64(binary.LittleEndian.Uint64(d.Body[8:])))))
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

	// Producers claim messages from the count (if any) until the time is
	// up. Only the pacing wait sees the end of the time: a send in
	// progress completes, so that every message the backend took is
	// counted.
	paceCtx, stopPace := context.WithCancel(ctx)
	if o.count == 0 {
		paceCtx, stopPace = context.WithTimeout(ctx, o.duration)
	}
	defer stopPace()
	pace := newPacer(o.rate)
	sendLat := make([]histogram, len(prods))
	var pwg sync.WaitGroup
	for i, p := range prods {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			h := &sendLat[i]
			msgs := make([]*mq.Message, o.batch)
			for j := range msgs {
				msgs[j] = &mq.Message{}
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
				t0 := time.Now()
				for _, m := range batch {
					b := make([]byte, o.size)
					binary.LittleEndian.PutUint64(b, runID)
					binary.LittleEndian.PutUint64(b[8:], uint64(t0.UnixNano()))
					*m = mq.Message{Body: b}
				}
				if k == 1 {
					err = p.Send(ctx, batch[0])
				} else {
					err = p.SendBatch(ctx, batch)
				}
				d := time.Since(t0)
				ok := 0
				for _, m := range batch {
					if m.ID != "" {
						ok++
						h.record(d)
					}
				}
				sent.Add(int64(ok))
				if err != nil && ctx.Err() == nil {
					fail(err)
				}
			}
		}()
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
		res.sendLat.merge(&sendLat[i])
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
