// Command portmq sends and receives messages through any portmq backend,
// chosen by URL, lists the registered backends and their capabilities,
// runs the conformance suite against a live backend, and runs the order →
// payment spike demo.
//
//	portmq demo                              # the spike scenario on mem://
//	portmq send URL [-body text | -file path | stdin] [-attr k=v ...]
//	portmq recv URL [-n count] [-ack=true] [-timeout d] [-json]
//	portmq drivers [URL ...]
//	portmq conformance [flags] URL... | -container NAME
//	portmq help [command]
//
// Errors go to standard error with exit status 1; usage errors exit 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

// env is what a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cmd            *command // the command running
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string // one line for the command list
	about   string // paragraphs for the command's own help
	example string
	// flags defines the command's flags on fs and returns the function
	// that runs it with the positional arguments.
	flags func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) int
}

var commands = []*command{demoCmd, sendCmd, recvCmd, driversCmd, conformanceCmd}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// run is main without the process, for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch name := args[0]; name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && name == "help" {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "portmq help: unknown command %q\nRun 'portmq help' for the list of commands.\n", args[1])
				return exitUsage
			}
			c.usage(stdout, c.flagSet())
			return exitOK
		}
		usage(stdout)
		return exitOK
	default:
		c := lookup(name)
		if c == nil {
			fmt.Fprintf(stderr, "portmq: unknown command %q\nRun 'portmq help' for the list of commands.\n", name)
			return exitUsage
		}
		return c.run(ctx, e, args[1:])
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `portmq sends and receives messages through any portmq backend, chosen by URL.

Usage:
  portmq <command> [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  help        show help for a command

Examples:
  portmq demo
  portmq demo -orders 2000 -fail-rate 0.2
  portmq send 'mem://orders' -body '{"order":1}' -attr type=order.created
  portmq recv 'mem://orders/payments' -n 10 -timeout 5s -json
  portmq drivers
  portmq conformance 'amqp://guest:guest@127.0.0.1:5672/' -run DeadLetter

Run 'portmq help <command>' or 'portmq <command> -h' for a command's flags.
A mem:// backend lives inside one process: separate runs of portmq do not
share its messages.
`)
}

func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("portmq "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors itself
	return fs
}

func (c *command) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: portmq %s %s\n\n%s\n", c.name, c.args, strings.TrimSpace(c.about))
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", strings.TrimRight(c.example, "\n"))
	}
	c.flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// run parses the command's flags, which may come before or after the
// positional arguments, and runs it.
func (c *command) run(ctx context.Context, e *env, args []string) int {
	fs := c.flagSet()
	do := c.flags(fs)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(e.stdout, c.flagSet())
		return exitOK
	}
	ce := *e
	ce.cmd = c
	if err != nil {
		return ce.usageError("%v", err)
	}
	return do(ctx, &ce, pos)
}

// usageError reports a wrong command line and returns exitUsage.
func (e *env) usageError(format string, a ...any) int {
	c := e.cmd
	fmt.Fprintf(e.stderr, "portmq %s: %s\n", c.name, fmt.Sprintf(format, a...))
	fmt.Fprintf(e.stderr, "usage: portmq %s %s\nRun 'portmq %s -h' for details.\n", c.name, c.args, c.name)
	return exitUsage
}

// fail reports an error and returns exitError.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "portmq %s: %v\n", e.cmd.name, err)
	return exitError
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
