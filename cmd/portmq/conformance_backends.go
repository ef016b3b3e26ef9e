package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

// confBackend is what the conformance command knows about one URL scheme:
// how to provision a case's resources through the driver's mq.Admin and
// which URLs reach them. This table is the one place that maps names to
// URLs; a scheme missing here is run from -topic-url and
// -subscription-url templates instead.
type confBackend struct {
	// lease and granularity are the harness defaults (-lease overrides
	// lease).
	lease, granularity time.Duration
	// adminOnly are parameters of the base URL that the admin and
	// subscription URLs take but topic URLs refuse.
	adminOnly []string
	// proxied says the handle URLs reach the server at the URL's host, so
	// that -cut can put a fault proxy there.
	proxied bool
	// maxName is the longest resource name the backend takes; longer
	// names are shortened with a hash (see provisioner.name).
	maxName int
	// provision creates the resources of spec and returns their URLs,
	// registering each created resource's deletion with p.undo.
	provision func(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error)
}

var confBackends = map[string]*confBackend{
	"mem":   {lease: time.Second, maxName: 255, provision: provisionMem},
	"amqp":  {lease: time.Second, maxName: 255, proxied: true, provision: provisionAMQP},
	"amqps": {lease: time.Second, maxName: 255, provision: provisionAMQP},
	// Kafka's limit is 249 bytes, but the driver's retry topic of the
	// dead-letter reader, TOPIC.dlq.GROUP.retry.GROUP-dlq-reader, holds
	// the group's name twice.
	"kafka":     {lease: 5 * time.Second, maxName: 64, adminOnly: []string{"mode"}, provision: provisionKafka},
	"sqs":       {lease: 2 * time.Second, granularity: time.Second, maxName: 80, provision: provisionSQS},
	"sns":       {lease: 2 * time.Second, granularity: time.Second, maxName: 80, provision: provisionSQS},
	"redis":     {lease: time.Second, maxName: 190, proxied: true, provision: provisionRedis},
	"rediss":    {lease: time.Second, maxName: 190, provision: provisionRedis},
	"gcppubsub": {lease: 10 * time.Second, granularity: time.Second, maxName: 255, provision: provisionPubSub},
	// PostgreSQL: names are rows (any length the driver takes; 200 leaves
	// room for the .dlq suffix).
	"postgres":   {lease: time.Second, maxName: 200, proxied: true, provision: provisionPostgres},
	"postgresql": {lease: time.Second, maxName: 200, proxied: true, provision: provisionPostgres},
}

// provisioner provisions the resources of one case under a name prefix.
type provisioner struct {
	mux          *mq.URLMux
	base         *url.URL   // the URL given on the command line
	topicQ, subQ url.Values // -topic-query, -subscription-query
	adminOnly    []string   // base parameters that subscriptions take but topics do not
	handleHost   string     // when set, the host of handle URLs (a fault proxy's)
	prefix       string
	max          int
	undo         []func(context.Context) error
}

// name returns prefix-s, shortened to the backend's limit (keeping the
// prefix, with a hash of what was cut) less reserve bytes for suffixes
// the provisioner appends (".fifo", "-dlq").
func (p *provisioner) name(s string, reserve int) string {
	n := p.prefix + "-" + s
	limit := p.max - reserve
	if len(n) <= limit {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	h := hex.EncodeToString(sum[:4])
	keep := max(limit-len(h)-1, len(p.prefix)+1)
	return n[:keep] + "-" + h
}

// URL kinds, for provisioner.handle.
const (
	topicKind = iota
	subKind
	dlqKind
)

// handle returns the base URL with path (unless empty) and a query of the
// base URL's parameters (the connection's: they reach the admin too), the
// -topic-query or -subscription-query ones for its kind, and kv (pairs of
// key and value). The backend's adminOnly parameters are left out of
// topic and dead-letter URLs.
func (p *provisioner) handle(kind int, path string, kv ...string) string {
	return p.handleOn(*p.base, kind, path, kv...)
}

// handleOn is handle on u, the base URL with another scheme or host.
func (p *provisioner) handleOn(u url.URL, kind int, path string, kv ...string) string {
	if p.handleHost != "" {
		u.Host = p.handleHost
	}
	if path != "" {
		u.Path, u.RawPath = path, ""
	}
	q := p.base.Query()
	extra := p.topicQ
	if kind != topicKind {
		extra = p.subQ
	}
	for k, vs := range extra {
		q[k] = vs
	}
	if kind != subKind {
		for _, k := range p.adminOnly {
			q.Del(k)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// withAdmin runs f with an admin of the scheme on the base URL (whose
// path is dropped, as admin URLs name no resource).
func (p *provisioner) withAdmin(ctx context.Context, scheme string, f func(*mq.Admin) error) error {
	u := *p.base
	u.Scheme = scheme
	switch scheme {
	case "amqp", "amqps", "redis", "rediss", "gcppubsub", "postgres", "postgresql": // the path is the vhost, the database, the project
	case "kafka":
		u.Path, u.RawPath = "/", ""
	default:
		u.Path, u.RawPath = "", ""
	}
	a, err := p.mux.OpenAdmin(ctx, u.String())
	if err != nil {
		return err
	}
	defer a.Close()
	return f(a)
}

// created registers the deletion of what was just created; deletions run
// in reverse order, ignoring NotFound.
func (p *provisioner) created(scheme string, del func(ctx context.Context, a *mq.Admin) error) {
	p.undo = append(p.undo, func(ctx context.Context) error {
		return p.withAdmin(ctx, scheme, func(a *mq.Admin) error {
			if err := del(ctx, a); err != nil && !errors.Is(err, mq.ErrNotFound) {
				return err
			}
			return nil
		})
	})
}

// cleanup deletes everything registered with created.
func (p *provisioner) cleanup(ctx context.Context) error {
	var errs []error
	for i := len(p.undo) - 1; i >= 0; i-- {
		errs = append(errs, p.undo[i](ctx))
	}
	p.undo = nil
	return errors.Join(errs...)
}

// subName returns the name of subscription i of a case whose topic is
// topic: Spec.SubscriptionName (under the prefix) for the first one when
// set.
func (p *provisioner) subName(spec conformance.Spec, topic string, i, reserve int) string {
	if i == 0 && spec.SubscriptionName != "" {
		return p.name(spec.SubscriptionName, reserve)
	}
	return p.name(spec.Name+"-s"+strconv.Itoa(i), reserve)
}

func subConfig(spec conformance.Spec) mq.SubscriptionConfig {
	return mq.SubscriptionConfig{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered, Retention: spec.Retention}
}

// provisionMem: topics and subscriptions of the in-process engine; the
// dead-letter topic gets a subscription "dlq" before anything can be
// dead-lettered.
func provisionMem(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	const s = "mem"
	topic := p.name(spec.Name, 4)
	res := &conformance.Resources{TopicURL: "mem://" + topic}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		cfg := subConfig(spec)
		if spec.DeadLetter {
			dlq := topic + "-dlq"
			if err := a.CreateTopic(ctx, dlq, mq.TopicConfig{}); err != nil {
				return err
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, dlq) })
			if err := a.CreateSubscription(ctx, dlq, "dlq", mq.SubscriptionConfig{}); err != nil {
				return err
			}
			cfg.DeadLetterTopic = dlq
			res.DeadLetterURL = "mem://" + dlq + "/dlq"
		}
		for i := range spec.Subscriptions {
			sub := p.subName(spec, topic, i, 0)
			if err := a.CreateSubscription(ctx, topic, sub, cfg); err != nil {
				return err
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, "mem://"+topic+"/"+sub)
		}
		return nil
	})
	return res, err
}

// provisionAMQP: a fanout exchange per topic and a quorum queue per
// subscription (see drivers/rabbitmq); the dead-letter queue is created by
// the admin with its subscription.
func provisionAMQP(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	s := p.base.Scheme
	topic := p.name(spec.Name, 8)
	const vhost = "" // keep the base URL's path: the vhost
	res := &conformance.Resources{TopicURL: p.handle(topicKind, vhost, "topic", topic)}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		var dlqs []string
		for i := range spec.Subscriptions {
			q := p.subName(spec, topic, i, 8)
			cfg := mq.SubscriptionConfig{MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered}
			kv := []string{"topic", topic, "subscription", q, "visibility", spec.Lease.String()}
			if spec.MaxAttempts > 0 {
				kv = append(kv, "max_attempts", strconv.Itoa(spec.MaxAttempts))
			}
			if spec.Ordered {
				kv = append(kv, "ordered", "true")
			}
			if spec.DeadLetter {
				cfg.DeadLetterTopic = q + ".dlq"
				kv = append(kv, "dead_letter", cfg.DeadLetterTopic)
			}
			if err := a.CreateSubscription(ctx, topic, q, cfg); err != nil {
				return err
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteSubscription(ctx, topic, q) })
			if d := cfg.DeadLetterTopic; d != "" {
				dlqs = append(dlqs, d)
				p.created(s, func(ctx context.Context, a *mq.Admin) error {
					return errors.Join(a.DeleteSubscription(ctx, d, d), a.DeleteTopic(ctx, d))
				})
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, p.handle(subKind, vhost, kv...))
		}
		if spec.DeadLetter {
			res.DeadLetterURL = p.handle(dlqKind, vhost, "topic", dlqs[0], "subscription", dlqs[0])
		}
		return nil
	})
	return res, err
}

// provisionRedis: a stream per topic and a consumer group per
// subscription (see drivers/redis); dead letters go to the stream
// TOPIC.dlq, read by its group "read".
func provisionRedis(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	s := p.base.Scheme
	const db = "" // keep the base URL's path: the database
	topic := p.name(spec.Name, 4)
	dlq := topic + ".dlq"
	res := &conformance.Resources{TopicURL: p.handle(topicKind, db, "topic", topic)}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		if spec.DeadLetter || spec.MaxAttempts > 0 {
			p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, dlq) })
		}
		for i := range spec.Subscriptions {
			sub := p.subName(spec, topic, i, 0)
			cfg := mq.SubscriptionConfig{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered}
			if spec.DeadLetter || spec.MaxAttempts > 0 {
				cfg.DeadLetterTopic = dlq
			}
			if err := a.CreateSubscription(ctx, topic, sub, cfg); err != nil {
				return err
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteSubscription(ctx, topic, sub) })
			kv := []string{"topic", topic, "subscription", sub}
			if spec.Lease > 0 {
				kv = append(kv, "lease", spec.Lease.String())
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, p.handle(subKind, db, kv...))
		}
		if spec.DeadLetter {
			if err := a.CreateSubscription(ctx, dlq, "read", mq.SubscriptionConfig{}); err != nil {
				return err
			}
			res.DeadLetterURL = p.handle(dlqKind, db, "topic", dlq, "subscription", "read")
		}
		return nil
	})
	return res, err
}

// provisionKafka: a topic and a consumer (or share, with mode=share on
// the URL) group per subscription; the driver names each group's
// dead-letter topic TOPIC.dlq.GROUP and its retry topic itself.
func provisionKafka(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	const s = "kafka"
	topic := p.name(spec.Name, 0)
	share := p.base.Query().Get("mode") == "share"
	res := &conformance.Resources{TopicURL: p.handle(topicKind, "/"+topic)}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		var subs []string
		for i := range spec.Subscriptions {
			sub := p.subName(spec, topic, i, 0)
			if err := a.CreateSubscription(ctx, topic, sub, mq.SubscriptionConfig{}); err != nil {
				return err
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error {
				return errors.Join(a.DeleteSubscription(ctx, topic, sub), ignoreNotFound(a.DeleteTopic(ctx, topic+".dlq."+sub)))
			})
			subs = append(subs, sub)
			kv := []string{"subscription", sub, "lease", spec.Lease.String()}
			if spec.MaxAttempts > 0 {
				kv = append(kv, "max_attempts", strconv.Itoa(spec.MaxAttempts))
			}
			if spec.Ordered && !share {
				// Share groups cannot order: the capability says so and
				// the cases skip.
				kv = append(kv, "ordered", "true")
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, p.handle(subKind, "/"+topic, kv...))
		}
		if spec.DeadLetter {
			res.DeadLetterURL = p.handle(dlqKind, "/"+topic+".dlq."+subs[0], "subscription", subs[0]+"-dlq-reader", "start", "earliest")
		}
		return nil
	})
	return res, err
}

// provisionSQS: for sqs:// a queue that is its own subscription, and for
// several subscriptions (fan-out) or sns:// an SNS topic with a queue per
// subscription; FIFO queues for ordered or deduplicating specs.
func provisionSQS(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	fifo := spec.Ordered || spec.DedupWindow > 0
	suffix := ""
	if fifo {
		suffix = ".fifo"
	}
	const reserve = len("-dlq.fifo") + 3
	cfg := mq.SubscriptionConfig{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered}
	res := &conformance.Resources{}
	// onBase returns the URL of host (and path) on scheme, with the base's
	// region, endpoint and profile; subscriptions poll for 1 s.
	onBase := func(scheme, host, path string, kind int) string {
		u := *p.base
		u.Scheme, u.Host, u.Path, u.RawPath = scheme, host, "", ""
		if kind != topicKind {
			return p.handleOn(u, kind, path, "wait", "1s")
		}
		return p.handleOn(u, kind, path)
	}
	err := p.withAdmin(ctx, "sqs", func(sqsAdmin *mq.Admin) error {
		if spec.DeadLetter || spec.MaxAttempts > 0 {
			dlq := p.name(spec.Name, reserve) + "-dlq" + suffix
			cfg.DeadLetterTopic = dlq
			res.DeadLetterURL = onBase("sqs", dlq, "", dlqKind)
			p.created("sqs", func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, dlq) })
		}
		if p.base.Scheme == "sqs" && spec.Subscriptions <= 1 {
			queue := p.name(spec.Name, reserve) + suffix
			if spec.SubscriptionName != "" {
				// SQS names are global: the queue is topic and
				// subscription at once.
				queue = p.name(spec.SubscriptionName, reserve) + suffix
			}
			if err := sqsAdmin.CreateTopic(ctx, queue, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
				return err
			}
			p.created("sqs", func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, queue) })
			if err := sqsAdmin.CreateSubscription(ctx, queue, queue, cfg); err != nil {
				return err
			}
			res.TopicURL = onBase("sqs", queue, "", topicKind)
			res.SubscriptionURLs = []string{onBase("sqs", queue, "", subKind)}
			return nil
		}
		return p.withAdmin(ctx, "sns", func(snsAdmin *mq.Admin) error {
			topic := p.name(spec.Name, reserve) + suffix
			if err := snsAdmin.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
				return err
			}
			p.created("sns", func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
			res.TopicURL = onBase("sns", topic, "", topicKind)
			for i := range max(spec.Subscriptions, 1) {
				queue := p.subName(spec, topic, i, reserve) + suffix
				if err := snsAdmin.CreateSubscription(ctx, topic, queue, cfg); err != nil {
					return err
				}
				p.created("sns", func(ctx context.Context, a *mq.Admin) error { return a.DeleteSubscription(ctx, topic, queue) })
				if p.base.Scheme == "sns" {
					res.SubscriptionURLs = append(res.SubscriptionURLs, onBase("sns", topic, "/"+queue, subKind))
				} else {
					res.SubscriptionURLs = append(res.SubscriptionURLs, onBase("sqs", queue, "", subKind))
				}
			}
			return nil
		})
	})
	return res, err
}

// provisionPubSub: a topic and its subscriptions in the project the URL
// names (gcppubsub://projects/P); a dead-letter topic with a subscription
// of the same name, set as the subscriptions' dead-letter policy when the
// spec has max attempts, else named by the dead_letter parameter.
func provisionPubSub(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	const s = "gcppubsub"
	project := strings.TrimPrefix(p.base.Host+p.base.Path, "projects/")
	if project == "" || strings.Contains(project, "/") {
		return nil, fmt.Errorf("want gcppubsub://projects/PROJECT, got %s", mq.Redact(p.base.String()))
	}
	base := "gcppubsub://projects/" + project
	topic := p.name(spec.Name, 8)
	res := &conformance.Resources{TopicURL: base + "/topics/" + topic}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		cfg := subConfig(spec)
		extra := ""
		if spec.DeadLetter {
			dlq := topic + "-dlq"
			res.DeadLetterURL = base + "/subscriptions/" + dlq
			if spec.MaxAttempts > 0 {
				cfg.DeadLetterTopic = dlq // the admin creates it and its subscription
			} else {
				if err := a.CreateTopic(ctx, dlq, mq.TopicConfig{}); err != nil {
					return err
				}
				if err := a.CreateSubscription(ctx, dlq, dlq, mq.SubscriptionConfig{}); err != nil {
					return err
				}
				extra = "?dead_letter=" + dlq
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error {
				return errors.Join(ignoreNotFound(a.DeleteSubscription(ctx, dlq, dlq)), a.DeleteTopic(ctx, dlq))
			})
		}
		for i := range spec.Subscriptions {
			sub := p.subName(spec, topic, i, 0)
			if err := a.CreateSubscription(ctx, topic, sub, cfg); err != nil {
				return err
			}
			p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteSubscription(ctx, topic, sub) })
			res.SubscriptionURLs = append(res.SubscriptionURLs, base+"/subscriptions/"+sub+extra)
		}
		return nil
	})
	return res, err
}

func ignoreNotFound(err error) error {
	if errors.Is(err, mq.ErrNotFound) {
		return nil
	}
	return err
}

// templates is the harness description for a backend without an Admin
// (or one this command does not know): URL templates in which {name} is
// the case's topic name (under the prefix), {sub} a subscription's name,
// {lease} the lease and {max_attempts} the max attempts. Resources are
// created by opening them, as mem:// and other open-creates backends do,
// and are not deleted.
type templates struct {
	topic, sub, dlq string
}

func (tp templates) provision(mux *mq.URLMux, prefix string) func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	return func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		name := prefix + "-" + spec.Name
		expand := func(t, sub string) string {
			return strings.NewReplacer("{name}", name, "{sub}", sub, "{lease}", spec.Lease.String(),
				"{max_attempts}", strconv.Itoa(spec.MaxAttempts)).Replace(t)
		}
		res := &conformance.Resources{TopicURL: expand(tp.topic, "")}
		if spec.DeadLetter {
			if tp.dlq == "" {
				return nil, errors.New("the case needs a dead-letter destination: give -dlq-url")
			}
			res.DeadLetterURL = expand(tp.dlq, "dlq")
			if err := touch(ctx, mux, res.DeadLetterURL); err != nil {
				return nil, err
			}
		}
		for i := range spec.Subscriptions {
			sub := "s" + strconv.Itoa(i)
			if i == 0 && spec.SubscriptionName != "" {
				sub = prefix + "-" + spec.SubscriptionName
			}
			u := expand(tp.sub, sub)
			// Opening creates the subscription, so that it gets every
			// message sent from now on.
			if err := touch(ctx, mux, u); err != nil {
				return nil, err
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, u)
		}
		return res, nil
	}
}

// touch opens the subscription u and shuts it down.
func touch(ctx context.Context, mux *mq.URLMux, u string) error {
	s, err := mux.OpenSubscription(ctx, u)
	if err != nil {
		return err
	}
	return s.Shutdown(ctx)
}

// provisionPostgres: a topic and subscriptions through the driver's admin,
// in the schema the base URL names (?schema=, default portmq); a
// subscription with max attempts dead-letters to its own NAME.dlq topic,
// which the admin creates with a subscription of that name.
func provisionPostgres(ctx context.Context, p *provisioner, spec conformance.Spec) (*conformance.Resources, error) {
	s := p.base.Scheme
	const db = "" // keep the base URL's path: the database
	topic := p.name(spec.Name, 8)
	res := &conformance.Resources{TopicURL: p.handle(topicKind, db, "topic", topic)}
	err := p.withAdmin(ctx, s, func(a *mq.Admin) error {
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
			return err
		}
		p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
		var dlq string
		for i := range spec.Subscriptions {
			sub := p.subName(spec, topic, i, 8)
			cfg := subConfig(spec)
			if spec.DeadLetter || spec.MaxAttempts > 0 {
				cfg.DeadLetterTopic = sub + ".dlq"
				if dlq == "" {
					dlq = cfg.DeadLetterTopic
				}
				d := cfg.DeadLetterTopic
				p.created(s, func(ctx context.Context, a *mq.Admin) error { return a.DeleteTopic(ctx, d) })
			}
			if err := a.CreateSubscription(ctx, topic, sub, cfg); err != nil {
				return err
			}
			kv := []string{"topic", topic, "subscription", sub, "poll_interval", "1s"}
			if spec.Lease > 0 {
				kv = append(kv, "visibility", spec.Lease.String())
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, p.handle(subKind, db, kv...))
		}
		if spec.DeadLetter {
			res.DeadLetterURL = p.handle(dlqKind, db, "topic", dlq, "subscription", dlq, "poll_interval", "1s")
		}
		return nil
	})
	return res, err
}
