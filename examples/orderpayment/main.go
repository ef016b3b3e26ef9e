// Command orderpayment runs the order → payment spike scenario: an order
// service publishes a burst of orders (20 000 in one second by default)
// while a payment service consumes at a bounded rate with retries, a
// dead-letter destination and an idempotency store, then proves that every
// order was paid exactly once. The URLs are flags, so the same program runs
// on any backend:
//
//	go run ./examples/orderpayment
//	go run ./examples/orderpayment -orders 2000 -rate 1000 -fail-rate 0.2
//
// See package scenario for what it checks.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/portmq/portmq/examples/orderpayment/scenario"
	_ "github.com/portmq/portmq/memdriver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: 0 on success, 1 when the run or its
// checks fail, 2 on bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("orderpayment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: orderpayment [flags]\n\nRuns the order → payment spike scenario and checks that every order is paid exactly once.\n\nflags:\n")
		fs.PrintDefaults()
	}
	cfg := scenario.DefaultConfig()
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "orderpayment: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "orderpayment:", err)
		return 2
	}
	if _, err := scenario.Run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "orderpayment:", err)
		return 1
	}
	return 0
}
