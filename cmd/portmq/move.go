package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/portmq/portmq/mq"
)

var moveCmd = &command{
	name:    "move",
	args:    "[flags] FROM-SUBSCRIPTION-URL TO-TOPIC-URL",
	summary: "move (redrive) messages from a subscription to a topic, on any backends",
	about: `Move moves messages from the subscription FROM names to the topic TO names,
for example dead letters back to their topic once the bug is fixed, or a
backlog from one backend to another (an SQS dead-letter queue into Kafka).
It uses mq.Forward: each batch is received, sent with SendBatch, and only
the messages the destination confirmed are acked at the source, so a crash
in between sends a message twice rather than losing it. Body, attributes,
key and dedup ID are kept (the destination assigns new IDs); with
-strip-dead-letter the portmq dead-letter metadata (portmq-dead-letter-
reason, portmq-attempts, portmq-source) is removed, so the messages start
over as fresh ones.

It moves until no message arrived for -idle (the default: drain what is
there), or -n messages; -idle 0 moves until interrupted. It prints how
many messages it moved (-json: {"moved":N,...}) and exits 1 if a send or
an ack failed; a message the destination refused is handed back to FROM.`,
	example: `  portmq move 'mem://orders.dlq/dlq' 'mem://orders' -strip-dead-letter
  portmq move 'sqs://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq' 'kafka://localhost:9092/orders' -n 100
  portmq move 'amqp://guest:guest@localhost/?subscription=payments.dlq' 'amqp://guest:guest@localhost/?topic=orders' -json`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		n := fs.Int("n", 0, "move at most this many messages (0: no limit)")
		idle := fs.Duration("idle", 2*time.Second, "stop once no message arrived for this long (0: run until interrupted)")
		strip := fs.Bool("strip-dead-letter", false, "remove portmq's dead-letter metadata attributes")
		batch := fs.Int("batch", 100, "messages per receive, send and ack round")
		asJSON := fs.Bool("json", false, "print the result as a JSON object")
		return func(ctx context.Context, e *env, args []string) int {
			switch {
			case len(args) != 2:
				return e.usageError("want FROM-SUBSCRIPTION-URL and TO-TOPIC-URL, got %d arguments", len(args))
			case *n < 0 || *idle < 0:
				return e.usageError("-n and -idle must not be negative")
			case *batch < 1 || *batch > 10000:
				return e.usageError("-batch must be 1 to 10000")
			}
			moved, err := move(ctx, args[0], args[1], *batch, *n, *idle, *strip)
			if *asJSON {
				writeJSON(e.stdout, struct {
					Moved int    `json:"moved"`
					From  string `json:"from"`
					To    string `json:"to"`
					Error string `json:"error,omitempty"`
				}{moved, shown(args[0]), shown(args[1]), errString(err)})
			} else {
				fmt.Fprintf(e.stdout, "moved %d messages from %s to %s\n", moved, shown(args[0]), shown(args[1]))
			}
			if err != nil && !(errors.Is(err, context.Canceled) && *idle == 0) {
				return e.fail(err)
			}
			return exitOK
		}
	},
}

func move(ctx context.Context, from, to string, batch, n int, idle time.Duration, strip bool) (moved int, err error) {
	sub, err := mq.OpenSubscription(ctx, from, mq.WithPrefetch(batch))
	if err != nil {
		return 0, err
	}
	sctx, cancel := shutdownContext(ctx)
	defer cancel()
	defer func() {
		if serr := sub.Shutdown(sctx); err == nil {
			err = serr
		}
	}()
	p, err := mq.OpenProducer(ctx, to)
	if err != nil {
		return 0, err
	}
	defer func() {
		if serr := p.Shutdown(sctx); err == nil {
			err = serr
		}
	}()
	opts := []mq.ForwardOption{mq.ForwardBatch(batch), mq.ForwardLimit(n), mq.ForwardIdle(idle)}
	if strip {
		opts = append(opts, mq.ForwardStripDeadLetter())
	}
	return mq.Forward(ctx, sub, p, opts...)
}
