package main

import (
	"context"
	"flag"

	"github.com/portmq/portmq/examples/orderpayment/scenario"
)

var demoCmd = &command{
	name:    "demo",
	args:    "[flags]",
	summary: "run the order → payment spike scenario and check its outcome",
	about: `Demo runs the scenario of examples/orderpayment: an order service publishes a
burst of orders (by default 20 000 in one second, 10× a normal load) while a
payment service consumes at a bounded rate through an mq.Consumer. Some
payments fail transiently and are retried with backoff, a few orders are
poison and are dead-lettered (at once with mq.Permanent, or at max attempts),
and some orders are sent twice and paid once thanks to the idempotency store.

It prints progress once per second and a summary, and exits 1 unless every
order that can be paid was paid exactly once and every poison order was read
back from the dead-letter destination. The URLs pick the backend; the
defaults use mem://.`,
	example: `  portmq demo
  portmq demo -orders 2000 -rate 1000 -fail-rate 0.3 -seed 7
  portmq demo -orders 1000 -otel stdout`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		cfg := scenario.DefaultConfig()
		cfg.RegisterFlags(fs)
		otelOut := fs.String("otel", "", "`stdout`: after the run, trace two orders (one retried, one dead-lettered) with OpenTelemetry and print their spans")
		return func(ctx context.Context, e *env, args []string) int {
			if len(args) > 0 {
				return e.usageError("unexpected argument %q", args[0])
			}
			if err := cfg.Validate(); err != nil {
				return e.usageError("%v", err)
			}
			if *otelOut != "" && *otelOut != "stdout" {
				return e.usageError("-otel takes stdout, not %q", *otelOut)
			}
			if _, err := scenario.Run(ctx, cfg, e.stdout); err != nil {
				return e.fail(err)
			}
			if *otelOut == "stdout" {
				if err := traceOrders(ctx, cfg, e.stdout); err != nil {
					return e.fail(err)
				}
			}
			return exitOK
		}
	},
}
