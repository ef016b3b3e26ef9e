package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/portmq/portmq/mq"
)

var sendCmd = &command{
	name:    "send",
	args:    "[flags] URL",
	summary: "send a message to the topic a URL names",
	about: `Send sends one message (or -n copies of it) to the topic the URL names and
prints each message's ID on a line. The body is the -body text, the contents
of -file, or else standard input. Send returns once the backend has durably
accepted every message.`,
	example: `  portmq send 'mem://orders' -body '{"order":1}' -attr type=order.created -key customer-7
  echo hello | portmq send 'mem://greetings' -dedup greeting-1 -delay 10s`,
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
		dedup := fs.String("dedup", "", "deduplication `id`")
		delay := fs.Duration("delay", 0, "deliver no sooner than this `duration` from now")
		n := fs.Int("n", 1, "send this many copies of the message")
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
			}
			var data []byte
			var err error
			switch {
			case isSet(fs, "body"):
				data = []byte(*body)
			case *file != "":
				data, err = os.ReadFile(*file)
			case e.stdin != nil:
				data, err = io.ReadAll(e.stdin)
			}
			if err != nil {
				return e.fail(err)
			}
			m := mq.Message{Body: data, Key: *key, DedupID: *dedup, Delay: *delay}
			if len(attrs) > 0 {
				m.Attributes = attrs
			}
			if err := send(ctx, e, args[0], m, *n); err != nil {
				return e.fail(err)
			}
			return exitOK
		}
	},
}

// send sends n copies of m to url and prints their IDs.
func send(ctx context.Context, e *env, url string, m mq.Message, n int) (err error) {
	p, err := mq.OpenProducer(ctx, url)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if serr := p.Shutdown(sctx); err == nil {
			err = serr
		}
	}()
	const chunk = 1000
	batch := make([]*mq.Message, 0, min(n, chunk))
	for sent := 0; sent < n; {
		batch = batch[:0]
		for ; sent < n && len(batch) < chunk; sent++ {
			c := m
			batch = append(batch, &c)
		}
		if len(batch) == 1 {
			err = p.Send(ctx, batch[0])
		} else {
			err = p.SendBatch(ctx, batch)
		}
		for _, b := range batch {
			if b.ID != "" {
				fmt.Fprintln(e.stdout, b.ID)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
