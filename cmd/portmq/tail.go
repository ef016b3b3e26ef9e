package main

import (
	"context"
	"errors"
	"flag"

	"github.com/portmq/portmq/mq"
)

var tailCmd = &command{
	name:    "tail",
	args:    "[flags] URL",
	summary: "follow a subscription, printing messages as they arrive",
	about: `Tail follows the subscription the URL names and prints each message as it
arrives, as recv does, until it is interrupted (Ctrl-C: exit 130) or -n
messages arrived. Like recv it ACKS what it prints: it consumes. With
-ack=false it leaves each message unsettled: the backend delivers it again
once its lease ends or tail exits (tail may print it again), on most
backends counting a delivery attempt, and meanwhile it is not delivered to
other consumers. Follow a
copy instead of the work queue: give tail a subscription of its own on the
topic (on RabbitMQ, Kafka, Pub/Sub, SNS a subscription is a copy of the
topic's stream).`,
	example: `  portmq tail 'amqp://guest:guest@localhost/?topic=orders&subscription=orders-tail'
  portmq tail 'kafka://localhost:9092/orders?group=tail' -json | jq .body`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		n := fs.Int("n", 0, "stop after this many messages (0: until interrupted)")
		ack := fs.Bool("ack", true, "ack (consume) each message; false: hand them back at exit")
		asJSON := fs.Bool("json", false, "print one JSON object per message and line")
		return func(ctx context.Context, e *env, args []string) int {
			switch {
			case len(args) != 1:
				return e.usageError("want exactly one URL, got %d arguments", len(args))
			case *n < 0:
				return e.usageError("-n must not be negative")
			}
			show := printText
			if *asJSON {
				show = printJSON
			}
			_, err := recv(ctx, args[0], recvOptions{n: *n, ack: *ack, follow: true}, func(d *mq.Delivery) error { return show(e.stdout, d) })
			if err == nil || errors.Is(err, context.Canceled) {
				return exitOK // an interrupt ends a tail; main makes it 130
			}
			return e.fail(err)
		}
	},
}
