package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portmq/portmq/mq"
)

var verifyCmd = &command{
	name:    "verify",
	args:    "[flags] URL",
	summary: "check for lost and duplicated messages across a consumer kill and a fault",
	about: `Verify checks your setup for loss. On a fresh topic and subscription (made
through the backend's mq.Admin and deleted at the end, as bench does) it
starts -consumers consumer processes of itself, sends -messages messages
whose sequence numbers it keeps in a ledger, and each consumer records the
effect of a message (a line in a file, written before the ack) in -work
time. Once a third of the messages took effect it kills one consumer with
SIGKILL in the middle of a handler; at half it runs -fault through sh -c
(for example a broker restart). Then it waits until every message took
effect or was dead-lettered, or nothing happened for -idle, and reports:

  acked sends    sends the backend confirmed
  lost           confirmed sends without an effect and not dead-lettered
  duplicates     effects beyond the first of a message (at-least-once
                 delivery redoes a handler killed between effect and ack)
  dead-lettered  messages in the dead-letter subscription (-max-attempts)

With -idempotency the consumers are mq.Consumers with the Redis
IdempotencyStore (WithMaxExtension of 2 leases, so that a claim the killed
consumer held lapses after 3 leases; run with and without it to compare
the duplicates). It exits 1 if any message was lost. The backend must be one that
processes share (not mem://). -lossy makes the consumers ack before the
effect, a deliberately wrong handler, to see the loss reported.`,
	example: `  portmq verify 'amqp://guest:guest@localhost/' -messages 2000 -consumers 3
  portmq verify 'amqp://guest:guest@localhost/' -fault 'rabbitmqctl stop_app && rabbitmqctl start_app'
  sudo portmq verify 'amqp://guest:guest@localhost/' -fault 'systemctl restart rabbitmq-server' -json`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		var o verifyOptions
		fs.IntVar(&o.consumers, "consumers", 3, "consumer processes")
		fs.IntVar(&o.messages, "messages", 1000, "messages to send")
		fs.IntVar(&o.concurrency, "concurrency", 8, "handlers per consumer process")
		fs.DurationVar(&o.work, "work", 20*time.Millisecond, "time a handler takes")
		fs.DurationVar(&o.lease, "lease", 5*time.Second, "subscription lease")
		fs.IntVar(&o.maxAttempts, "max-attempts", 0, "dead-letter after this many failed deliveries (0: never)")
		fs.BoolVar(&o.kill, "kill", true, "SIGKILL one consumer mid-handler")
		fs.StringVar(&o.fault, "fault", "", "`command` run through sh -c mid-run")
		fs.DurationVar(&o.idle, "idle", 0, "give up once no effect happened for this long (0: 3 leases + 10s)")
		fs.StringVar(&o.idem, "idempotency", "", "consumers run an mq.Consumer with the Redis IdempotencyStore at this `URL` (redis://HOST:PORT/DB)")
		fs.BoolVar(&o.lossy, "lossy", false, "consumers ack before the effect (a deliberately lossy handler)")
		o.scratch.define(fs)
		asJSON := fs.Bool("json", false, "print the report as one JSON object")
		worker := fs.String("worker", "", "(internal) run as one of verify's consumers, recording effects in `file`")
		fs.StringVar(&o.idemPrefix, "idempotency-prefix", "", "(internal) the store's key `prefix` for the run")
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) != 1 {
				return e.usageError("want exactly one URL, got %d arguments", len(args))
			}
			if *worker != "" {
				if err := verifyWorker(ctx, args[0], *worker, o); err != nil && ctx.Err() == nil {
					return e.fail(err)
				}
				return exitOK
			}
			switch {
			case o.consumers < 1 || o.messages < 1 || o.concurrency < 1:
				return e.usageError("-consumers, -messages and -concurrency must be at least 1")
			case o.kill && o.consumers < 2:
				return e.usageError("-kill needs at least 2 consumers (-kill=false for one)")
			case o.idem != "" && o.lossy:
				return e.usageError("-lossy and -idempotency are exclusive (the Consumer acks after the handler)")
			case o.work < 0 || o.lease <= 0 || o.idle < 0 || o.maxAttempts < 0:
				return e.usageError("-work, -idle and -max-attempts must not be negative, -lease must be positive")
			case strings.HasPrefix(args[0], "mem:"):
				return e.usageError("mem:// lives inside one process: verify needs a backend its consumer processes share")
			}
			if err := o.scratch.check(); err != nil {
				return e.usageError("%v", err)
			}
			if o.idle == 0 {
				o.idle = 3*o.lease + 10*time.Second
			}
			r, err := verify(ctx, e, args[0], o)
			if r != nil {
				if *asJSON {
					writeJSON(e.stdout, r)
				} else {
					r.print(e)
				}
			}
			switch {
			case err != nil:
				return e.fail(err)
			case r.Lost > 0:
				return e.fail(fmt.Errorf("%d of %d acked sends were lost", r.Lost, r.AckedSends))
			}
			return exitOK
		}
	},
}

type verifyOptions struct {
	consumers, messages, concurrency, maxAttempts int
	work, lease, idle                             time.Duration
	kill, lossy                                   bool
	fault, idem                                   string
	idemPrefix                                    string // the store's key prefix, one per run
	scratch                                       scratchFlags
}

type verifyReport struct {
	URL          string  `json:"url"`
	Consumers    int     `json:"consumers"`
	Messages     int     `json:"messages"`
	AckedSends   int     `json:"acked_sends"`
	SendErrors   int     `json:"send_errors"`
	Effects      int     `json:"effects"` // messages with at least one effect
	Lost         int     `json:"lost"`
	Duplicates   int     `json:"duplicate_effects"`
	DeadLettered int     `json:"dead_lettered"`
	Killed       bool    `json:"killed"`
	Fault        string  `json:"fault,omitempty"`
	Idempotency  string  `json:"idempotency_store,omitempty"`
	FaultResult  string  `json:"fault_result,omitempty"`
	TimedOut     bool    `json:"gave_up_idle"`
	Seconds      float64 `json:"seconds"`
	LostSample   []int   `json:"lost_sample,omitempty"`
}

func (r *verifyReport) print(e *env) {
	fmt.Fprintf(e.stdout, "verify %s: %d consumers, %d messages\n", r.URL, r.Consumers, r.Messages)
	if r.Killed {
		fmt.Fprintln(e.stdout, "killed one consumer mid-handler (SIGKILL)")
	}
	if r.Idempotency != "" {
		fmt.Fprintf(e.stdout, "consumers use mq.Consumer with the idempotency store %s\n", r.Idempotency)
	}
	if r.Fault != "" {
		fmt.Fprintf(e.stdout, "ran fault %q: %s\n", r.Fault, r.FaultResult)
	}
	fmt.Fprintf(e.stdout, "acked sends    %d (send errors %d)\n", r.AckedSends, r.SendErrors)
	fmt.Fprintf(e.stdout, "took effect    %d\n", r.Effects)
	fmt.Fprintf(e.stdout, "lost           %d\n", r.Lost)
	if len(r.LostSample) > 0 {
		fmt.Fprintf(e.stdout, "  e.g. messages %v\n", r.LostSample)
	}
	fmt.Fprintf(e.stdout, "duplicates     %d\n", r.Duplicates)
	fmt.Fprintf(e.stdout, "dead-lettered  %d\n", r.DeadLettered)
	fmt.Fprintf(e.stdout, "time           %.1fs\n", r.Seconds)
	if r.TimedOut {
		fmt.Fprintln(e.stdout, "(stopped waiting: no effect for -idle)")
	}
	if r.Lost == 0 {
		fmt.Fprintln(e.stdout, "OK: nothing lost")
	}
}

// ledger is what the consumers' effect files say.
type ledger struct {
	ready   int
	effects map[int]int // seq → effects
	busy    []int       // per file: handlers begun and not done
}

// readLedgers parses the effect files.
func readLedgers(files []string) ledger {
	l := ledger{effects: map[int]int{}, busy: make([]int, len(files))}
	for i, f := range files {
		b, _ := os.ReadFile(f)
		for _, line := range bytes.Split(b, []byte("\n")) {
			verb, arg, _ := strings.Cut(string(line), " ")
			seq, _ := strconv.Atoi(arg)
			switch verb {
			case "ready":
				l.ready++
			case "done":
				l.effects[seq]++
				l.busy[i]--
			case "begin":
				l.busy[i]++
			}
		}
	}
	return l
}

func verify(ctx context.Context, e *env, base string, o verifyOptions) (r *verifyReport, err error) {
	start := time.Now()
	s, err := provision(ctx, base, o.scratch, "portmq-verify", o.lease, o.maxAttempts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := s.release(ctx); err == nil && rerr != nil {
			err = fmt.Errorf("cleaning up: %w", rerr)
		}
	}()
	subURL := s.subURL
	r = &verifyReport{URL: shown(base), Consumers: o.consumers, Messages: o.messages, Fault: o.fault, Idempotency: shown(o.idem)}
	var dlq *mq.Subscription
	if s.dlqURL != "" {
		if dlq, err = mq.OpenSubscription(ctx, s.dlqURL); err != nil {
			return nil, err
		}
		defer func() {
			sctx, cancel := shutdownContext(ctx)
			defer cancel()
			_ = dlq.Shutdown(sctx)
		}()
	}

	dir, err := os.MkdirTemp("", "portmq-verify-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	childErr := &lockedWriter{w: e.stderr}
	files := make([]string, o.consumers)
	procs := make([]*exec.Cmd, o.consumers)
	defer func() {
		for _, p := range procs {
			if p != nil && p.Process != nil {
				_ = p.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, p := range procs {
			if p != nil && p.Process != nil {
				_ = p.Wait()
			}
		}
	}()
	for i := range procs {
		files[i] = filepath.Join(dir, fmt.Sprintf("consumer-%d", i))
		args := []string{"verify", "-worker", files[i], "-work", o.work.String(), "-concurrency", strconv.Itoa(o.concurrency), "-lossy=" + strconv.FormatBool(o.lossy), subURL}
		if o.idem != "" {
			args = append(args, "-idempotency", o.idem, "-idempotency-prefix", filepath.Base(dir))
		}
		c := exec.Command(exe, args...)
		c.Stderr = childErr
		if err := c.Start(); err != nil {
			return nil, err
		}
		procs[i] = c
	}
	// Wait until every consumer is ready (its subscription open).
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for readyBy := time.Now().Add(60 * time.Second); readLedgers(files).ready < o.consumers; {
		if time.Now().After(readyBy) {
			return nil, errors.New("the consumers did not start within 60s")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}

	// Send the messages, recording which the backend confirmed.
	p, err := mq.OpenProducer(ctx, s.prodURL)
	if err != nil {
		return nil, err
	}
	acked := make([]bool, o.messages)
	var sendErrs atomic.Int64
	var sendDone atomic.Bool
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		defer sendDone.Store(true)
		const chunk = 50
		for i := 0; i < o.messages && ctx.Err() == nil; i += chunk {
			var batch []*mq.Message
			for j := i; j < min(i+chunk, o.messages); j++ {
				batch = append(batch, &mq.Message{Body: []byte(strconv.Itoa(j))})
			}
			if err := p.SendBatch(ctx, batch); err != nil {
				sendErrs.Add(1)
			}
			for j, m := range batch {
				acked[i+j] = m.ID != ""
			}
		}
	}()
	defer func() {
		swg.Wait()
		sctx, cancel := shutdownContext(ctx)
		defer cancel()
		_ = p.Shutdown(sctx)
	}()

	var faultDone atomic.Bool
	faultDone.Store(o.fault == "")
	faultStarted := false
	var fwg sync.WaitGroup
	defer fwg.Wait()
	lastEffects, lastChange := 0, time.Now()
	for {
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-tick.C:
		}
		l := readLedgers(files)
		done := len(l.effects)
		if done != lastEffects {
			lastEffects, lastChange = done, time.Now()
		}
		if o.kill && !r.Killed && done >= o.messages/4 {
			for i, n := range l.busy {
				if n > 0 && procs[i] != nil {
					_ = procs[i].Process.Signal(syscall.SIGKILL)
					_ = procs[i].Wait()
					procs[i] = nil
					r.Killed = true
					break
				}
			}
		}
		if !faultStarted && o.fault != "" && done >= o.messages/2 && (r.Killed || !o.kill) {
			faultStarted = true
			fwg.Add(1)
			go func() {
				defer fwg.Done()
				defer faultDone.Store(true)
				t0 := time.Now()
				out, err := exec.CommandContext(ctx, "sh", "-c", o.fault).CombinedOutput()
				res := fmt.Sprintf("ok in %.1fs", time.Since(t0).Seconds())
				if err != nil {
					res = fmt.Sprintf("%v after %.1fs: %s", err, time.Since(t0).Seconds(), strings.TrimSpace(string(out)))
				}
				r.FaultResult = res
			}()
		}
		if sendDone.Load() && faultDone.Load() {
			swg.Wait()
			all := true
			for i, ok := range acked {
				if ok && l.effects[i] == 0 {
					all = false
					break
				}
			}
			if all && o.maxAttempts == 0 && (r.Killed || !o.kill) {
				break
			}
			if time.Since(lastChange) > o.idle {
				r.TimedOut = !all
				break
			}
			if all && (r.Killed || !o.kill) && time.Since(lastChange) > 2*o.work+time.Second {
				break // and some may be dead-lettered: drained below
			}
		}
	}
	swg.Wait()
	fwg.Wait()
	// Drain the dead letters.
	dead := map[int]bool{}
	if dlq != nil {
		for {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			d, err := dlq.Receive(rctx)
			cancel()
			if err != nil {
				break
			}
			if seq, err := strconv.Atoi(string(d.Body)); err == nil {
				dead[seq] = true
			}
			_ = d.Ack()
		}
	}
	l := readLedgers(files)
	for i, ok := range acked {
		if ok {
			r.AckedSends++
		}
		n := l.effects[i]
		if n > 0 {
			r.Effects++
			r.Duplicates += n - 1
		}
		if dead[i] {
			r.DeadLettered++
		}
		if ok && n == 0 && !dead[i] {
			r.Lost++
			if len(r.LostSample) < 10 {
				r.LostSample = append(r.LostSample, i)
			}
		}
	}
	r.SendErrors = int(sendErrs.Load())
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// verifyWorker is one consumer process: it records "begin SEQ" and "done
// SEQ" (the effect) in file around each handler, and acks after the
// effect (-lossy: before the handler).
func verifyWorker(ctx context.Context, subURL, file string, o verifyOptions) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	record := func(verb string, seq []byte) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = f.Write(append([]byte(verb+" "), append(seq, '\n')...))
	}
	sub, err := mq.OpenSubscription(ctx, subURL, mq.WithPrefetch(o.concurrency))
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := shutdownContext(ctx)
		defer cancel()
		_ = sub.Shutdown(sctx)
	}()
	if o.idem != "" {
		store, closeStore, err := openStore(o.idem, "portmq:verify:"+o.idemPrefix)
		if err != nil {
			return err
		}
		defer closeStore()
		c, err := mq.NewConsumer(sub, func(ctx context.Context, d *mq.Delivery) error {
			record("begin", d.Body)
			time.Sleep(o.work)
			record("done", d.Body)
			return nil
		}, mq.WithConcurrency(o.concurrency), mq.WithIdempotency(store),
			// A claim lives maxExtension + lease: with the default hour, the
			// killed consumer's claims would hold its messages that long.
			mq.WithMaxExtension(2*o.lease))
		if err != nil {
			return err
		}
		if _, err := f.WriteString("ready\n"); err != nil {
			return err
		}
		err = c.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if _, err := f.WriteString("ready\n"); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, o.concurrency)
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := sub.Receive(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				if o.lossy {
					_ = d.Ack()
				}
				record("begin", d.Body)
				time.Sleep(o.work)
				record("done", d.Body)
				if !o.lossy {
					_ = d.Ack() // an ack lost in a fault means a redelivery, counted as a duplicate
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// lockedWriter serializes the writes of the consumer processes' stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
