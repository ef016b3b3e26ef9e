package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/containers"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/mq"
)

var conformanceCmd = &command{
	name:    "conformance",
	args:    "[flags] URL... | -container NAME",
	summary: "run the conformance suite against a live backend",
	about: `Conformance runs portmq's conformance suite (package conformance) against the
backend each URL names and prints one line per case as it goes (PASS, FAIL or
SKIP, with the reason and the time) and a summary. It exits 1 if a case
failed.

Each case gets fresh resources, created through the driver's admin under the
-prefix (default portmq-conformance-<random>) and deleted after the case:
nothing outside the prefix is created, opened or deleted, so it may run
against a shared broker. The URL is the backend's admin URL, as in:

  mem://                                   the in-process engine
  amqp://USER:PASS@HOST:5672/[VHOST]       RabbitMQ
  kafka://HOST:9092/[?mode=share]          Kafka (consumer or share groups)
  sqs://?region=R[&endpoint=URL]           SQS (fan-out cases through SNS)
  sns://?region=R[&endpoint=URL]           SNS topics with SQS queues
  gcppubsub://projects/PROJECT             Pub/Sub (PUBSUB_EMULATOR_HOST honoured)
  redis://[:PASS@]HOST:6379/[DB]           Redis Streams

Parameters of the URL's query (the connection's: TLS, region, endpoint, a
Kafka mode) are kept on every URL the suite opens; -topic-query and
-subscription-query add parameters to topic or subscription URLs only. For a
backend without an admin (or a scheme not listed), describe the harness with
URL templates instead, in which {name} is the case's topic name (under the
prefix), {sub} a subscription's name, {lease} the lease and {max_attempts}
the max attempts: -topic-url and -subscription-url, and -dlq-url for the
dead-letter cases. Subscriptions are then created by opening them once, and
nothing is deleted.

-container NAME starts a server in Docker (testcontainers-go): kafka,
rabbitmq, redis, postgres, sqs or sns (LocalStack), or gcppubsub (Google's
Pub/Sub emulator); runs the suite against it and removes it. Package
conformance/containers also has nats, for a driver to come.

Cases that restart the broker are skipped: the command cannot restart a
server it does not own. With -cut (amqp, redis and postgres URLs), the suite's handles reach
the server through a loopback fault proxy (package conformance/faultproxy)
and the cases that cut the network run; without it they are skipped.`,
	example: `  portmq conformance 'mem://'
  portmq conformance 'amqp://guest:guest@127.0.0.1:5672/' -run 'Redeliver|DeadLetter' -json
  portmq conformance -container kafka
  portmq conformance -topic-url 'mem://{name}' -subscription-url 'mem://{name}/{sub}?visibility={lease}' mem://`,
	flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) int {
		o := &confOptions{}
		fs.StringVar(&o.prefix, "prefix", "", "name prefix of everything created (default portmq-conformance-<random>)")
		fs.StringVar(&o.run, "run", "", "run only the cases whose name matches this regular expression")
		fs.BoolVar(&o.json, "json", false, "print one JSON object per case and one for the summary")
		fs.DurationVar(&o.lease, "lease", 0, "the harness lease every wait derives from (default per backend: 1s for mem and amqp, 2s for sqs and sns, 5s for kafka, 10s for gcppubsub)")
		fs.DurationVar(&o.granularity, "granularity", 0, "precision of the backend's delays (default per backend)")
		fs.DurationVar(&o.timeout, "timeout", 0, "stop after this long in all (0: no limit)")
		fs.Func("skip", "skip a case: CASE=reason (repeatable)", func(v string) error {
			name, reason, ok := strings.Cut(v, "=")
			if !ok || name == "" || strings.TrimSpace(reason) == "" {
				return errors.New("want CASE=reason")
			}
			if o.skip == nil {
				o.skip = map[string]string{}
			}
			o.skip[name] = reason
			return nil
		})
		fs.StringVar(&o.tmpl.topic, "topic-url", "", "template of a case's topic URL, for a backend without an admin")
		fs.StringVar(&o.tmpl.sub, "subscription-url", "", "template of a case's subscription URLs (with -topic-url)")
		fs.StringVar(&o.tmpl.dlq, "dlq-url", "", "template of a case's dead-letter subscription URL (with -topic-url)")
		fs.Func("topic-query", "extra query parameters of every topic URL, as k=v&k=v", func(v string) (err error) {
			o.topicQ, err = url.ParseQuery(v)
			return err
		})
		fs.Func("subscription-query", "extra query parameters of every subscription URL, as k=v&k=v", func(v string) (err error) {
			o.subQ, err = url.ParseQuery(v)
			return err
		})
		fs.BoolVar(&o.cut, "cut", false, "run the cases that cut the network, through a fault proxy in front of the server (amqp, redis, postgres)")
		fs.StringVar(&o.container, "container", "", "start this server in Docker and test it (see above for names)")
		return func(ctx context.Context, e *env, args []string) int {
			if code, ok := o.check(e, args); !ok {
				return code
			}
			if o.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeout)
				defer cancel()
			}
			if o.container != "" {
				return o.runContainer(ctx, e)
			}
			failed := false
			for _, u := range args {
				code := o.runURL(ctx, e, u)
				if code == exitUsage {
					return code
				}
				failed = failed || code != exitOK
			}
			if failed {
				return exitError
			}
			return exitOK
		}
	},
}

type confOptions struct {
	prefix, run, container string
	json                   bool
	lease, granularity     time.Duration
	timeout                time.Duration
	skip                   map[string]string
	tmpl                   templates
	runRE                  *regexp.Regexp
	topicQ, subQ           url.Values
	cut                    bool
}

// prefixRE is what a prefix may hold: characters every backend takes in
// a name, starting with a letter.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// check validates the command line; ok false means it reported a usage
// error with code.
func (o *confOptions) check(e *env, args []string) (code int, ok bool) {
	switch {
	case o.container != "" && len(args) > 0:
		return e.usageError("give URLs or -container, not both"), false
	case o.container == "" && len(args) == 0:
		return e.usageError("want at least one URL (or -container NAME)"), false
	case o.lease < 0 || o.granularity < 0 || o.timeout < 0:
		return e.usageError("-lease, -granularity and -timeout must not be negative"), false
	case (o.tmpl.sub != "" || o.tmpl.dlq != "") && o.tmpl.topic == "",
		o.tmpl.topic != "" && o.tmpl.sub == "":
		return e.usageError("-topic-url and -subscription-url go together (-dlq-url with them)"), false
	case o.tmpl.topic != "" && !strings.Contains(o.tmpl.topic, "{name}"):
		return e.usageError("-topic-url must hold {name}, so that each case gets its own topic"), false
	case o.tmpl.sub != "" && !strings.Contains(o.tmpl.sub, "{sub}"):
		return e.usageError("-subscription-url must hold {sub}, so that a case's subscriptions differ"), false
	}
	if o.container != "" {
		b, found := containers.Lookup(o.container)
		if !found {
			return e.usageError("-container: unknown server %q; known: %s", o.container, strings.Join(containers.Names(), ", ")), false
		}
		if containerURL(b, o.container, "127.0.0.1", 1) == "" {
			return e.usageError("-container %s: no portmq driver for that server yet", o.container), false
		}
	}
	if o.prefix == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		o.prefix = "portmq-conformance-" + hex.EncodeToString(b[:])
	} else if !prefixRE.MatchString(o.prefix) {
		return e.usageError("-prefix %q: want 1 to 40 of a-z 0-9 -, starting with a letter", o.prefix), false
	}
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return e.usageError("-run: %v", err), false
		}
		o.runRE = re
	}
	for name := range o.skip {
		if !slices.ContainsFunc(conformance.Cases(), func(c conformance.Case) bool { return c.Name == name }) {
			return e.usageError("-skip %s: no such case", name), false
		}
	}
	return 0, true
}

// runContainer starts the -container server, runs the suite against the
// URL it yields and removes it.
func (o *confOptions) runContainer(ctx context.Context, e *env) int {
	fmt.Fprintf(e.stderr, "starting a %s container...\n", o.container)
	srv, err := containers.Start(ctx, o.container)
	if err != nil {
		return e.fail(err)
	}
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := srv.Terminate(tctx); err != nil {
			fmt.Fprintf(e.stderr, "portmq conformance: remove the %s container: %v\n", o.container, err)
		}
	}()
	for k, v := range srv.Env() {
		if err := os.Setenv(k, v); err != nil {
			return e.fail(err)
		}
	}
	return o.runURL(ctx, e, containerURL(srv.Backend, o.container, srv.Host, srv.Port))
}

// containerURL returns the URL to test of the container of b reached at
// host:port: the one of the driver named name, else the first one with
// provisioning in confBackends (sqs for localstack), else "".
func containerURL(b containers.Backend, name, host string, port int) string {
	urls := b.URLs(host, port)
	keys := slices.Sorted(maps.Keys(urls))
	switch {
	case slices.Contains(keys, name):
		keys = append([]string{name}, keys...)
	case slices.Contains(keys, "sqs"):
		keys = append([]string{"sqs"}, keys...)
	}
	for _, k := range keys {
		if u, err := url.Parse(urls[k]); err == nil && confBackends[u.Scheme] != nil {
			return urls[k]
		}
	}
	return ""
}

// harness builds the harness for base. Call closeProxy when done.
func (o *confOptions) harness(base string) (h conformance.Harness, how string, closeProxy func(), err error) {
	closeProxy = func() {}
	h, how, proxyHost, err := o.harnessOf(base)
	if err != nil || !o.cut {
		return h, how, closeProxy, err
	}
	u, _ := url.Parse(base)
	if b := confBackends[u.Scheme]; b == nil || !b.proxied || o.tmpl.topic != "" {
		return h, how, closeProxy, fmt.Errorf("-cut: the handles of %s URLs do not reach the server at the URL's host, so no fault proxy can be put there", u.Scheme)
	}
	px, err := faultproxy.Start(u.Host)
	if err != nil {
		return h, how, closeProxy, err
	}
	*proxyHost = px.Addr()
	h.Cut = px.CutContext
	return h, how + ", through a fault proxy", func() { _ = px.Close() }, nil
}

func (o *confOptions) harnessOf(base string) (conformance.Harness, string, *string, error) {
	proxyHost := new(string)
	u, err := url.Parse(base)
	if err != nil {
		return conformance.Harness{}, "", nil, fmt.Errorf("bad URL %s: %w", mq.Redact(base), err)
	}
	mux := mq.DefaultURLMux()
	h := conformance.Harness{Name: u.Scheme, Mux: mux, Lease: o.lease, Granularity: o.granularity, Skip: map[string]string{}}
	maps.Copy(h.Skip, o.skip)
	how := "admin"
	b := confBackends[u.Scheme]
	switch {
	case o.tmpl.topic != "":
		how = "templates"
		h.Provision = o.tmpl.provision(mux, o.prefix)
		if h.Lease == 0 {
			h.Lease = time.Second
		}
	case b == nil:
		known := slices.Sorted(maps.Keys(confBackends))
		return h, "", nil, fmt.Errorf("no provisioning known for scheme %q (known: %s): describe the harness with -topic-url and -subscription-url templates", u.Scheme, strings.Join(known, ", "))
	default:
		h.Provision = func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
			p := &provisioner{mux: mux, base: u, topicQ: o.topicQ, subQ: o.subQ, adminOnly: b.adminOnly, handleHost: *proxyHost, prefix: o.prefix, max: b.maxName}
			res, err := b.provision(ctx, p, spec)
			if err != nil {
				return nil, errors.Join(err, p.cleanup(context.WithoutCancel(ctx)))
			}
			res.Cleanup = p.cleanup
			return res, nil
		}
		if h.Lease == 0 {
			h.Lease = b.lease
		}
		if h.Granularity == 0 {
			h.Granularity = b.granularity
		}
	}
	return h, how, proxyHost, nil
}

// caseLine is one case's JSON line.
type caseLine struct {
	Case    string  `json:"case"`
	Rule    string  `json:"rule"`
	Status  string  `json:"status"`
	Message string  `json:"message,omitempty"`
	Seconds float64 `json:"seconds"`
}

// summaryLine is the JSON summary of one URL's run.
type summaryLine struct {
	Summary  bool     `json:"summary"`
	URL      string   `json:"url"`
	Harness  string   `json:"harness"`
	Prefix   string   `json:"prefix"`
	Lease    string   `json:"lease"`
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Skipped  int      `json:"skipped"`
	NotRun   int      `json:"not_run"`
	FailedIn []string `json:"failed_cases,omitempty"`
	Error    string   `json:"error,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// runURL runs the suite against one URL, a case at a time so that each
// line prints as soon as its case ends.
func (o *confOptions) runURL(ctx context.Context, e *env, base string) int {
	h, how, closeProxy, err := o.harness(base)
	if err != nil {
		return e.usageError("%v", err)
	}
	defer closeProxy()
	shown := mq.Redact(base)
	if !strings.ContainsAny(base, "@?") {
		shown = base // nothing to redact; Redact would print mem:// as mem:
	}
	sum := summaryLine{Summary: true, URL: shown, Harness: h.Name, Prefix: o.prefix, Lease: h.Lease.String()}
	if !o.json {
		fmt.Fprintf(e.stdout, "conformance %s (provisioned through the %s, prefix %s, lease %v)\n", shown, how, o.prefix, h.Lease)
	}
	start := time.Now()
	cases := conformance.Cases()
	for _, c := range cases {
		if o.runRE != nil && !o.runRE.MatchString(c.Name) {
			sum.NotRun++
			continue
		}
		if ctx.Err() != nil {
			sum.Error = ctx.Err().Error()
			break
		}
		// Check runs every case; all but c are skipped by the harness,
		// which costs nothing.
		one := h
		one.Skip = map[string]string{}
		for _, other := range cases {
			if other.Name != c.Name {
				one.Skip[other.Name] = "not this run"
			}
		}
		if r, ok := h.Skip[c.Name]; ok {
			one.Skip[c.Name] = r
		}
		rep, _ := conformance.Check(ctx, one, nil)
		i := slices.IndexFunc(rep.Results, func(r conformance.Result) bool { return r.Name == c.Name })
		if i < 0 {
			sum.Error = fmt.Sprintf("case %s did not run", c.Name)
			break
		}
		res := rep.Results[i]
		msg := strings.TrimSpace(res.Message)
		switch res.Status {
		case conformance.Pass:
			sum.Passed++
		case conformance.Fail:
			sum.Failed++
			sum.FailedIn = append(sum.FailedIn, c.Name)
		case conformance.Skip:
			sum.Skipped++
		}
		if o.json {
			writeJSON(e.stdout, caseLine{Case: c.Name, Rule: c.Rule, Status: res.Status.String(), Message: msg, Seconds: res.Duration.Seconds()})
			continue
		}
		fmt.Fprintf(e.stdout, "%s  %-48s %6.2fs", res.Status, c.Name, res.Duration.Seconds())
		if msg != "" && res.Status != conformance.Pass {
			fmt.Fprintf(e.stdout, "  %s", indent(msg))
		}
		fmt.Fprintln(e.stdout)
	}
	sum.Seconds = time.Since(start).Seconds()
	if o.json {
		writeJSON(e.stdout, sum)
	} else {
		fmt.Fprintf(e.stdout, "%s: %d passed, %d failed, %d skipped", shown, sum.Passed, sum.Failed, sum.Skipped)
		if sum.NotRun > 0 {
			fmt.Fprintf(e.stdout, ", %d not selected by -run", sum.NotRun)
		}
		fmt.Fprintf(e.stdout, " in %.1fs\n", sum.Seconds)
		if len(sum.FailedIn) > 0 {
			fmt.Fprintf(e.stdout, "FAILED: %s\n", strings.Join(sum.FailedIn, ", "))
		}
	}
	if sum.Error != "" {
		fmt.Fprintf(e.stderr, "portmq conformance: %s: %s\n", shown, sum.Error)
		return exitError
	}
	if sum.Failed > 0 {
		return exitError
	}
	return exitOK
}

func writeJSON(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(w, "%s\n", b)
}

// indent keeps a multi-line message under its case's line.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n      ") }
