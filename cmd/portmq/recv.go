package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portmq/portmq/mq"
)

var recvCmd = &command{
	name:    "recv",
	args:    "[flags] URL",
	summary: "receive (and by default consume) messages from a subscription",
	about: `Recv receives messages from the subscription the URL names, prints each
one (ID, attempt, publish time, key, dedup ID, attributes, body; dead letters
carry portmq-dead-letter-reason, portmq-attempts and portmq-source) and
ACKS IT: by default recv consumes what it shows, and the messages are gone.
With -ack=false it leaves them unsettled instead: they are handed back when
recv exits and the backend delivers them again, but on most backends that
receive counts as a delivery attempt (see "portmq help tail" and the README
on peeking), so it can bring a message nearer to its dead letter.

It stops after -n messages, or when -timeout passes; with -n 0 it receives
until -timeout passes. -timeout 0 means "do not wait for messages that are
not there yet": recv stops at the first receive that finds nothing within
2s (the backend's connection set-up counts, so on backends slow to start
consuming, such as Kafka with its group join, give a real -timeout). It
never waits without limit: to follow a subscription use tail. It exits 1
if fewer than -n messages arrived in time (-n 0: never).`,
	example: `  portmq recv 'mem://orders/payments?max_attempts=5' -n 10 -timeout 5s
  portmq recv 'mem://orders.payments.dlq/dlq' -n 0 -timeout 0 -json
  portmq recv 'amqp://guest:guest@localhost/?topic=orders&subscription=audit' -ack=false`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		n := fs.Int("n", 1, "stop after this many messages (0: no limit)")
		ack := fs.Bool("ack", true, "ack (consume) each message; false: leave it to be delivered again")
		timeout := fs.Duration("timeout", 10*time.Second, "stop after this long in all (0: take only what is ready now)")
		asJSON := fs.Bool("json", false, "print one JSON object per message and line")
		return func(ctx context.Context, e *env, args []string) int {
			switch {
			case len(args) != 1:
				return e.usageError("want exactly one URL, got %d arguments", len(args))
			case *n < 0:
				return e.usageError("-n must not be negative")
			case *timeout < 0:
				return e.usageError("-timeout must not be negative")
			}
			show := printText
			if *asJSON {
				show = printJSON
			}
			got, err := recv(ctx, args[0], recvOptions{n: *n, ack: *ack, timeout: *timeout}, func(d *mq.Delivery) error { return show(e.stdout, d) })
			switch {
			case err == nil:
				return exitOK
			case errors.Is(err, errIdle) && *n == 0, errors.Is(err, context.DeadlineExceeded) && *n == 0:
				return exitOK // no limit: the timeout ends the run
			case errors.Is(err, errIdle):
				return e.fail(fmt.Errorf("received %d of %d messages: no more were ready", got, *n))
			case errors.Is(err, context.DeadlineExceeded):
				return e.fail(fmt.Errorf("received %d of %d messages in %v", got, *n, *timeout))
			}
			return e.fail(err)
		}
	},
}

// readyWait is how long recv -timeout 0 waits for each message.
const readyWait = 2 * time.Second

var errIdle = errors.New("no message was ready")

type recvOptions struct {
	n       int           // stop after n messages; 0: no limit
	ack     bool          // ack each message
	timeout time.Duration // in all; 0: each receive waits readyWait at most
	follow  bool          // ignore timeout: receive until ctx ends
}

// recv receives messages from url as o says and calls show for each. It
// returns how many it received.
func recv(ctx context.Context, url string, o recvOptions, show func(*mq.Delivery) error) (got int, err error) {
	if o.timeout > 0 && !o.follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	prefetch := 64
	if o.n > 0 {
		prefetch = min(o.n, 64)
	}
	sub, err := mq.OpenSubscription(ctx, url, mq.WithPrefetch(prefetch))
	if err != nil {
		return 0, err
	}
	defer func() {
		// Shutdown hands unsettled deliveries back to the backend.
		sctx, cancel := shutdownContext(ctx)
		defer cancel()
		if serr := sub.Shutdown(sctx); err == nil {
			err = serr
		}
	}()
	for o.n == 0 || got < o.n {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if o.timeout == 0 && !o.follow {
			rctx, cancel = context.WithTimeout(ctx, readyWait)
		}
		d, err := sub.Receive(rctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && rctx.Err() != nil {
				return got, errIdle
			}
			return got, err
		}
		got++
		if err := show(d); err != nil {
			return got, err
		}
		if o.ack {
			if err := d.Ack(); err != nil {
				return got, err
			}
		}
	}
	return got, nil
}

func printText(w io.Writer, d *mq.Delivery) error {
	fmt.Fprintf(w, "message %s  attempt %d  published %s\n", d.ID, d.Attempt, d.PublishedAt.UTC().Format(time.RFC3339Nano))
	if d.Key != "" {
		fmt.Fprintf(w, "key: %s\n", d.Key)
	}
	if d.DedupID != "" {
		fmt.Fprintf(w, "dedup-id: %s\n", d.DedupID)
	}
	for _, k := range slices.Sorted(maps.Keys(d.Attributes)) {
		fmt.Fprintf(w, "attr %s: %s\n", k, d.Attributes[k])
	}
	if printable(d.Body) {
		fmt.Fprintf(w, "body (%d bytes):\n%s\n\n", len(d.Body), d.Body)
	} else {
		fmt.Fprintf(w, "body (%d bytes, base64):\n%s\n\n", len(d.Body), base64.StdEncoding.EncodeToString(d.Body))
	}
	return nil
}

// jsonDelivery is the -json form of a delivery. A body that is not valid
// UTF-8 text goes in BodyBase64 instead of Body.
type jsonDelivery struct {
	ID          string            `json:"id"`
	Attempt     int               `json:"attempt"`
	PublishedAt time.Time         `json:"published_at"`
	Key         string            `json:"key,omitempty"`
	DedupID     string            `json:"dedup_id,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Body        *string           `json:"body,omitempty"`
	BodyBase64  *string           `json:"body_base64,omitempty"`
}

func printJSON(w io.Writer, d *mq.Delivery) error {
	j := jsonDelivery{ID: d.ID, Attempt: d.Attempt, PublishedAt: d.PublishedAt.UTC(), Key: d.Key, DedupID: d.DedupID, Attributes: d.Attributes}
	if utf8.Valid(d.Body) {
		s := string(d.Body)
		j.Body = &s
	} else {
		s := base64.StdEncoding.EncodeToString(d.Body)
		j.BodyBase64 = &s
	}
	return json.NewEncoder(w).Encode(j)
}

// printable reports whether b is UTF-8 text without control characters
// other than tab and newline.
func printable(b []byte) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
		b = b[size:]
	}
	return true
}
