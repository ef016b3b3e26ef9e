package rabbitmq_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/drivers/rabbitmq"
	"github.com/portmq/portmq/mq"
)

// BenchmarkVersusRaw compares, against the same server in the same
// process, raw amqp091-go and portmq doing the same work on a quorum
// queue: publishing 1 KiB persistent messages with publisher confirms and
// a window of rabbitmq.DefaultMaxInFlight unconfirmed messages (send), and
// consuming them with per-message acks at prefetch rabbitmq.DefaultPrefetch
// (consume). b.N is the number of messages. It reports raw-msgs/s,
// portmq-msgs/s and ratio (portmq ÷ raw).
func BenchmarkVersusRaw(b *testing.B) {
	base := serverURL(b)
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte(i)
	}
	// Raw and portmq alternate in the order raw, portmq, portmq, raw,
	// each with half of the messages, so that drift in the load of the
	// (shared) machine and the broker falls on both alike.
	// Raw and portmq alternate in short phases, in the order raw, portmq,
	// portmq, raw, four times, each phase with an eighth of the messages,
	// so that drift in the load of the (shared) machine and the broker
	// falls on both alike. Only the sending or consuming is timed, not
	// opening connections.
	var order []bool
	for range 4 {
		order = append(order, false, true, true, false)
	}
	b.Run("send", func(b *testing.B) {
		r := newBenchRig(b, base)
		n := max(b.N/8, 500)
		var raw, pm phase
		b.ResetTimer()
		for _, portmq := range order {
			if portmq {
				r.portmqSend(b, &pm, n, body)
			} else {
				r.rawSend(b, &raw, n, body)
			}
			b.StopTimer()
			r.purge(b)
			b.StartTimer()
		}
		b.StopTimer()
		report(b, raw, pm)
	})
	b.Run("consume", func(b *testing.B) {
		r := newBenchRig(b, base)
		n := max(b.N/8, 500)
		var raw, pm, preload phase
		b.ResetTimer()
		for _, portmq := range order {
			b.StopTimer()
			r.rawSend(b, &preload, n, body)
			b.StartTimer()
			if portmq {
				r.portmqConsume(b, &pm, n)
			} else {
				r.rawConsume(b, &raw, n)
			}
		}
		b.StopTimer()
		report(b, raw, pm)
	})
}

// phase accumulates messages, wall time and process CPU time of one side.
type phase struct {
	n   int
	d   time.Duration
	cpu time.Duration
}

// start starts timing n messages; call the returned function when done.
func (p *phase) start(n int) func() {
	t, c := time.Now(), cpuTime()
	return func() {
		p.d += time.Since(t)
		p.cpu += cpuTime() - c
		p.n += n
	}
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerMsg is the client CPU time per message in microseconds.
func (p *phase) cpuPerMsg() float64 { return float64(p.cpu.Microseconds()) / float64(p.n) }

func (p *phase) rate() float64 { return float64(p.n) / p.d.Seconds() }

func report(b *testing.B, raw, pm phase) {
	b.ReportMetric(raw.rate(), "raw-msgs/s")
	b.ReportMetric(pm.rate(), "portmq-msgs/s")
	b.ReportMetric(pm.rate()/raw.rate(), "ratio")
	// Client CPU per message: unlike throughput on a shared machine, it
	// hardly depends on the load of the other processes.
	b.ReportMetric(raw.cpuPerMsg(), "raw-cpu-µs/msg")
	b.ReportMetric(pm.cpuPerMsg(), "portmq-cpu-µs/msg")
}

type benchRig struct {
	base, topic, queue string
	conn               *amqp.Connection
}

func newBenchRig(b *testing.B, base string) *benchRig {
	r := &benchRig{base: base, topic: uniqueName(b, "bench")}
	r.queue = r.topic + ".q"
	conn, err := amqp.Dial(base)
	if err != nil {
		b.Fatal(err)
	}
	r.conn = conn
	b.Cleanup(func() {
		deleteAll(b, []string{r.queue}, []string{r.topic})
		_ = conn.Close()
	})
	// Declared by the driver, as the subscription will be.
	s, err := rabbitmq.NewSubscription(conn, r.queue, &rabbitmq.SubscriptionOptions{Topic: r.topic})
	if err != nil {
		b.Fatal(err)
	}
	_ = s.Close()
	return r
}

func (r *benchRig) purge(b *testing.B) {
	ch, err := r.conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.QueuePurge(r.queue, false); err != nil {
		b.Fatal(err)
	}
}

// rawSend publishes n messages with confirms, at most DefaultMaxInFlight
// unconfirmed: the amqp091-go way, with deferred confirmations.
func (r *benchRig) rawSend(b *testing.B, ph *phase, n int, body []byte) {
	ch, err := r.conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	defer ph.start(n)()
	window := make([]*amqp.DeferredConfirmation, 0, rabbitmq.DefaultMaxInFlight)
	head := 0
	for i := range n {
		if len(window)-head == rabbitmq.DefaultMaxInFlight {
			if !window[head].Wait() {
				b.Fatal("nack")
			}
			head++
		}
		dc, err := ch.PublishWithDeferredConfirm(r.topic, "", true, false, amqp.Publishing{
			MessageId: strconv.Itoa(i), Timestamp: time.Now(), DeliveryMode: amqp.Persistent, Body: body,
		})
		if err != nil {
			b.Fatal(err)
		}
		if head > len(window)/2 && head > 64 {
			window = append(window[:0], window[head:]...)
			head = 0
		}
		window = append(window, dc)
	}
	for _, dc := range window[head:] {
		if !dc.Wait() {
			b.Fatal("nack")
		}
	}
}

// portmqSend sends n messages through an mq.Producer in one SendBatch
// call, which the driver pipelines within its window (as rawSend does).
func (r *benchRig) portmqSend(b *testing.B, ph *phase, n int, body []byte) {
	ctx := context.Background()
	p, err := mq.OpenProducer(ctx, withQueryS(r.base, "topic", r.topic))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(ctx)
	store := make([]mq.Message, n)
	msgs := make([]*mq.Message, n)
	for i := range msgs {
		store[i] = mq.Message{Body: body}
		msgs[i] = &store[i]
	}
	defer ph.start(n)()
	if err := p.SendBatch(ctx, msgs); err != nil {
		b.Fatal(err)
	}
}

// rawConsume consumes and acks n messages one by one.
func (r *benchRig) rawConsume(b *testing.B, ph *phase, n int) {
	ch, err := r.conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Qos(rabbitmq.DefaultPrefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	defer ph.start(n)()
	ds, err := ch.Consume(r.queue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		d, ok := <-ds
		if !ok {
			b.Fatal("deliveries closed")
		}
		if err := d.Ack(false); err != nil {
			b.Fatal(err)
		}
	}
}

// portmqConsume receives and acks n messages one by one through an
// mq.Subscription.
func (r *benchRig) portmqConsume(b *testing.B, ph *phase, n int) {
	ctx := context.Background()
	s, err := mq.OpenSubscription(ctx, withQueryS(r.base, "topic", r.topic, "subscription", r.queue))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(ctx)
	defer ph.start(n)()
	for range n {
		d, err := s.Receive(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Ack(); err != nil {
			b.Fatal(err)
		}
	}
}
