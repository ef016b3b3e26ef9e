package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq"
)

var sendCmd = &command{
	name:    "send",
	args:    "[flags] URL",
	summary: "send messages to the topic a URL names",
	about: `Send sends one message (or -n copies of it) to the topic the URL names and
prints each message's ID on a line. The body is the -body text, the contents
of -file, or else standard input. With -lines, every non-empty line of the
input (without its newline) is one message, sent as it is read, as kcat -P
does; -n then sends each line that many times. Messages go out in batches
(SendBatch) of up to 1000, at most -rate messages a second. Send returns
once the backend has durably accepted every message; on a terminal it shows
its progress on standard error.`,
	example: `  portmq send 'mem://orders' -body '{"order":1}' -attr type=order.created -key customer-7
  echo hello | portmq send 'mem://greetings' -dedup greeting-1 -delay 10s
  seq 1 100000 | portmq send 'amqp://guest:guest@localhost/?topic=numbers' -lines -rate 5000
  portmq send 'mem://orders' -file order.json -n 1000 -json`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		body := fs.String("body", "", "message `text` (default: standard input)")
		file := fs.String("file", "", "read the body from `path`")
		attrs := map[string]string{}
		fs.Func("attr", "attribute `k=v` (repeatable)", func(s string) error {
			k, v, ok := strings.Cut(s, "=")
			if !ok || k == "" {
				return errors.New("want key=value")
			}
			if _, dup := attrs[k]; dup {
				return fmt.Errorf("attribute %q given twice", k)
			}
			attrs[k] = v
			return nil
		})
		key := fs.String("key", "", "ordering `key`")
		dedup := fs.String("dedup", "", "deduplication `id` (with -n or -lines every message gets this one ID)")
		delay := fs.Duration("delay", 0, "deliver no sooner than this `duration` from now")
		n := fs.Int("n", 1, "send this many copies of the message (with -lines: of each line)")
		lines := fs.Bool("lines", false, "send each non-empty input line as a message")
		rate := fs.Float64("rate", 0, "send at most this many messages a `second` (0: no limit)")
		asJSON := fs.Bool("json", false, `print {"id":...} per message and line`)
		return func(ctx context.Context, e *env, args []string) int {
			switch {
			case len(args) != 1:
				return e.usageError("want exactly one URL, got %d arguments", len(args))
			case isSet(fs, "body") && isSet(fs, "file"):
				return e.usageError("-body and -file are exclusive")
			case *n < 1:
				return e.usageError("-n must be at least 1")
			case *delay < 0:
				return e.usageError("-delay must not be negative")
			case *rate < 0:
				return e.usageError("-rate must not be negative")
			}
			proto := mq.Message{Key: *key, DedupID: *dedup, Delay: *delay}
			if len(attrs) > 0 {
				proto.Attributes = attrs
			}
			var in io.Reader
			switch {
			case isSet(fs, "body"):
				in = strings.NewReader(*body)
			case *file != "":
				f, err := os.Open(*file)
				if err != nil {
					return e.fail(err)
				}
				defer f.Close()
				in = f
			case e.stdin != nil:
				in = e.stdin
			default:
				in = strings.NewReader("")
			}
			src := make(chan *mq.Message, 1000)
			srcErr := make(chan error, 1)
			stop := make(chan struct{})
			defer close(stop)
			go func() { srcErr <- produce(in, *lines, *n, proto, src, stop) }()
			print := func(id string) {
				if *asJSON {
					writeJSON(e.stdout, struct {
						ID string `json:"id"`
					}{id})
				} else {
					fmt.Fprintln(e.stdout, id)
				}
			}
			if err := send(ctx, e, args[0], src, newPacer(*rate), print); err != nil {
				return e.fail(err)
			}
			if err := <-srcErr; err != nil {
				return e.fail(err)
			}
			return exitOK
		}
	},
}

// produce feeds src with the messages to send, built from proto and read
// from in, and closes it at the end of the input; it returns early when
// stop is closed.
func produce(in io.Reader, lines bool, n int, proto mq.Message, src chan<- *mq.Message, stop <-chan struct{}) error {
	defer close(src)
	emit := func(body []byte) bool {
		for range n {
			m := proto
			m.Body = body
			select {
			case src <- &m:
			case <-stop:
				return false
			}
		}
		return true
	}
	if !lines {
		data, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		emit(data)
		return nil
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if !emit(bytes.Clone(sc.Bytes())) {
			return nil
		}
	}
	return sc.Err()
}

// send sends the messages from src to url in batches, paced by p, and
// calls print with the ID of each.
func send(ctx context.Context, e *env, url string, src <-chan *mq.Message, p *pacer, print func(id string)) (err error) {
	prod, err := mq.OpenProducer(ctx, url)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := shutdownContext(ctx)
		defer cancel()
		if serr := prod.Shutdown(sctx); err == nil {
			err = serr
		}
	}()
	var sent atomic.Int64
	prog := startProgress(e.stderr, func(d time.Duration) string {
		k := sent.Load()
		return fmt.Sprintf("sent %d messages (%.0f/s)", k, float64(k)/d.Seconds())
	})
	defer prog.Stop()
	const chunk = 1000
	batch := make([]*mq.Message, 0, chunk)
	for {
		batch = batch[:0]
		var m *mq.Message
		var ok bool
		select {
		case m, ok = <-src:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		batch = append(batch, m)
		k, err := p.take(ctx, chunk)
		if err != nil {
			return err
		}
	fill:
		for len(batch) < k {
			select {
			case m, ok := <-src:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		p.giveBack(k - len(batch))
		if len(batch) == 1 {
			err = prod.Send(ctx, batch[0])
		} else {
			err = prod.SendBatch(ctx, batch)
		}
		for _, b := range batch {
			if b.ID != "" {
				print(b.ID)
				sent.Add(1)
			}
		}
		if err != nil {
			return err
		}
	}
}
