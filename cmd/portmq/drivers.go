package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portmq/portmq/mq"
)

// probes are URLs whose capabilities can be read without a server, for the
// table printed without arguments.
var probes = map[string]string{"mem": "mem://portmq.drivers.probe"}

var driversCmd = &command{
	name:    "drivers",
	args:    "[-sub] [URL ...]",
	summary: "list the registered URL schemes and their capabilities",
	about: `Drivers lists the URL schemes registered in this binary and, where that needs
no server, what each backend does natively: "native" (the broker does it),
"driver" (the driver emulates it itself) or "none" (package mq emulates it,
or the operation returns an error matching errors.ErrUnsupported).

With URLs, it opens each as a producer (with -sub: as a subscription) and
prints the capabilities of that handle, so that parameters such as
mem://'s emulate=all show.`,
	example: `  portmq drivers
  portmq drivers -sub 'mem://orders/payments?emulate=all'`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		sub := fs.Bool("sub", false, "open the URLs as subscriptions rather than producers")
		asJSON := fs.Bool("json", false, "print one JSON object per scheme or URL and line")
		return func(ctx context.Context, e *env, args []string) int {
			type line struct {
				name string
				caps *mq.Capabilities // nil: not probed
				err  error            // opening it failed
			}
			var lines []line
			first := "url"
			if len(args) == 0 {
				first = "scheme"
				for _, s := range mq.DefaultURLMux().Schemes() {
					l := line{name: s}
					if u, ok := probes[s]; ok {
						caps, err := capabilities(ctx, u, false)
						if err != nil {
							return e.fail(err)
						}
						l.caps = &caps
					}
					lines = append(lines, l)
				}
			}
			failed := false
			for _, u := range args {
				caps, err := capabilities(ctx, u, *sub)
				if err != nil {
					// Report it and go on with the other URLs.
					fmt.Fprintf(e.stderr, "portmq drivers: %v\n", err)
					failed = true
					lines = append(lines, line{name: mq.Redact(u), err: err})
					continue
				}
				lines = append(lines, line{name: mq.Redact(u), caps: &caps})
			}
			if *asJSON {
				for _, l := range lines {
					j := jsonDriver{Error: errString(l.err)}
					if first == "url" {
						j.URL = l.name
					} else {
						j.Scheme = l.name
					}
					if l.caps != nil {
						j.Features = map[string]string{}
						for _, f := range l.caps.Features() {
							j.Features[f.Name] = fmt.Sprint(f.Support)
						}
						if s := limits(*l.caps); s != "-" {
							j.Limits = s
						}
					}
					writeJSON(e.stdout, j)
				}
				if failed {
					return exitError
				}
				return exitOK
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
			header(tw, first)
			for _, l := range lines {
				switch {
				case l.err != nil:
					fmt.Fprintf(tw, "%s\t(cannot open: see the error above)\n", l.name)
					continue
				case l.caps == nil:
					fmt.Fprintf(tw, "%s\t(run 'portmq drivers URL' to read its capabilities)\n", l.name)
					continue
				}
				row(tw, l.name, *l.caps)
			}
			if err := tw.Flush(); err != nil {
				return e.fail(err)
			}
			if failed {
				return exitError
			}
			return exitOK
		}
	},
}

// capabilities opens url as a producer or subscription and returns what
// it reports.
func capabilities(ctx context.Context, url string, sub bool) (mq.Capabilities, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if sub {
		s, err := mq.OpenSubscription(ctx, url)
		if err != nil {
			return mq.Capabilities{}, err
		}
		defer s.Shutdown(sctx)
		return s.Capabilities(), nil
	}
	p, err := mq.OpenProducer(ctx, url)
	if err != nil {
		return mq.Capabilities{}, err
	}
	defer p.Shutdown(sctx)
	return p.Capabilities(), nil
}

func header(w io.Writer, first string) {
	fmt.Fprint(w, first)
	for _, f := range (mq.Capabilities{}).Features() {
		fmt.Fprintf(w, "\t%s", f.Name)
	}
	fmt.Fprintln(w, "\tlimits")
}

func row(w io.Writer, name string, c mq.Capabilities) {
	fmt.Fprint(w, name)
	for _, f := range c.Features() {
		fmt.Fprintf(w, "\t%s", f.Support)
	}
	fmt.Fprintf(w, "\t%s\n", limits(c))
}

// limits describes the set limits of c, or "-".
func limits(c mq.Capabilities) string {
	var l []string
	if c.MaxBodySize > 0 {
		l = append(l, "body ≤ "+bytesize(c.MaxBodySize))
	}
	if c.MaxAttributes > 0 {
		l = append(l, fmt.Sprintf("attributes ≤ %d", c.MaxAttributes))
	}
	if c.MaxBatch > 0 {
		l = append(l, fmt.Sprintf("batch ≤ %d", c.MaxBatch))
	}
	if c.MaxDelay > 0 {
		l = append(l, "delay ≤ "+duration(c.MaxDelay))
	}
	if c.MaxNackDelay > 0 {
		l = append(l, "nack delay ≤ "+duration(c.MaxNackDelay))
	}
	if c.MinLease > 0 || c.MaxLease > 0 {
		l = append(l, "lease "+duration(c.MinLease)+".."+duration(c.MaxLease))
	}
	if c.Granularity > 0 {
		l = append(l, "granularity "+duration(c.Granularity))
	}
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}

// duration prints d as time.Duration does, and whole hours and days
// without zero minutes and seconds.
func duration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d >= 48*time.Hour:
		return strconv.FormatFloat(d.Hours()/24, 'f', 1, 64) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func bytesize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// jsonDriver is the -json form of a line of drivers.
type jsonDriver struct {
	Scheme   string            `json:"scheme,omitempty"`
	URL      string            `json:"url,omitempty"`
	Features map[string]string `json:"features,omitempty"` // absent: not probed
	Limits   string            `json:"limits,omitempty"`
	Error    string            `json:"error,omitempty"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
