package kafka

import (
	"context"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Scheme is the URL scheme the driver registers with mq.
const Scheme = "kafka"

func init() { mq.Register(Scheme, urlOpener{}) }

// urlOpener opens handles from kafka:// URLs; see the package doc.
type urlOpener struct{}

// Parameters each kind of URL accepts (see the package doc).
var (
	connParams  = append([]string{"client_id", "sasl"}, driver.TLSParams...)
	topicParams = []string{"batch_max_bytes", "compression", "linger", "max_body"}
	subParams   = []string{"commit_interval", "dead_letter", "fetch_max_wait", "heartbeat_interval", "idle_leave",
		"lease", "max_attempts", "max_poll_records", "mode", "ordered", "rebalance_timeout", "retry_topic",
		"revoke_wait", "session_timeout", "start", "subscription"}
	adminParams = []string{"mode", "partitions", "replication", "start"}
)

// OpenTopic opens kafka://BROKERS/TOPIC?... .
func (urlOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	p, err := parseURL(u, true, topicParams)
	if err != nil {
		return nil, err
	}
	o, opts, err := p.topicOptions()
	if err != nil {
		return nil, err
	}
	return withClient(opts, func(cl *kgo.Client) (driver.Topic, error) {
		return openTopic(ctx, cl, true, p.topic, o)
	})
}

// withClient creates a client for open, which owns it on success; it is
// closed if open fails.
func withClient[T any](opts []kgo.Opt, open func(*kgo.Client) (T, error)) (T, error) {
	var zero T
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return zero, invalid("client options: %v", err)
	}
	h, err := open(cl)
	if err != nil {
		cl.Close()
		return zero, err
	}
	return h, nil
}

// OpenSubscription opens kafka://BROKERS/TOPIC?subscription=NAME&... .
func (urlOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	p, err := parseURL(u, true, subParams)
	if err != nil {
		return nil, err
	}
	o, err := p.subscriptionOptions()
	if err != nil {
		return nil, err
	}
	sub := p.q["subscription"]
	if sub == "" {
		return nil, urlError("a subscription URL needs the parameter subscription=NAME (the consumer or share group)")
	}
	return withClient(p.clientOpts, func(cl *kgo.Client) (driver.Subscription, error) {
		return openSubscription(ctx, cl, true, p.topic, sub, o)
	})
}

// OpenAdmin opens kafka://BROKERS/?mode=&partitions=&replication=&start=.
func (urlOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	p, err := parseURL(u, false, adminParams)
	if err != nil {
		return nil, err
	}
	var o AdminOptions
	if o.Mode, o.Start, err = modeAndStart(p.q); err != nil {
		return nil, err
	}
	n, err := p.q.IntIn(Scheme, "partitions", 1, 1<<20)
	if err != nil {
		return nil, err
	}
	o.Partitions = int32(n)
	if v, ok := p.q["replication"]; ok {
		r, err := strconv.Atoi(v)
		if err != nil || r < -1 || r == 0 || r > 1000 {
			return nil, p.q.Want(Scheme, "replication", "-1 (the broker's default) or a replication factor from 1 to 1000")
		}
		o.ReplicationFactor = int16(r)
	}
	return withClient(p.clientOpts, func(cl *kgo.Client) (driver.Admin, error) {
		return newAdmin(cl, true, &o), nil
	})
}

// parsed is a parsed kafka:// URL.
type parsed struct {
	topic      string
	q          driver.Query
	clientOpts []kgo.Opt
}

// parseURL checks u, reads the broker list, the topic (when withTopic),
// the connection parameters and the parameters in allowed, and builds
// the options of a kgo client.
func parseURL(u *url.URL, withTopic bool, allowed []string) (*parsed, error) {
	switch {
	case u == nil:
		return nil, urlError("nil URL")
	case u.Opaque != "":
		return nil, urlError("want kafka://HOST:PORT[,HOST:PORT...]/TOPIC")
	case u.Fragment != "":
		return nil, urlError("kafka URLs take no fragment")
	case u.Host == "":
		return nil, urlError("missing brokers: want kafka://HOST:PORT[,HOST:PORT...]/TOPIC")
	}
	q, err := driver.ParseQuery(Scheme, u, append(slices.Clone(connParams), allowed...)...)
	if err != nil {
		return nil, err
	}
	p := &parsed{q: q}
	path := strings.TrimPrefix(u.Path, "/")
	if withTopic {
		if path == "" {
			return nil, urlError("missing topic: want kafka://HOST:PORT/TOPIC")
		}
		if err := checkName("topic", path); err != nil {
			return nil, urlError("topic %q must be 1 to 249 bytes of a-z A-Z 0-9 . _ - (one path segment)", path)
		}
		p.topic = path
	} else if path != "" {
		return nil, urlError("an admin URL names no topic: want kafka://HOST:PORT/")
	}
	var seeds []string
	for h := range strings.SplitSeq(u.Host, ",") {
		if h == "" {
			return nil, urlError("empty broker address in the broker list")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "9092")
		}
		seeds = append(seeds, h)
	}
	// Send waits for its record: lingering would only add latency (records
	// produced while a request is in flight are batched anyway).
	p.clientOpts = append(p.clientOpts, kgo.SeedBrokers(seeds...), kgo.ProducerLinger(0))
	if v, ok := q["client_id"]; ok {
		p.clientOpts = append(p.clientOpts, kgo.ClientID(v))
	}
	tlsOpt, err := q.TLS(Scheme)
	if err != nil {
		return nil, err
	}
	if tlsOpt != nil {
		p.clientOpts = append(p.clientOpts, kgo.DialTLSConfig(tlsOpt))
	}
	mech, user, pass, err := q.SASL(Scheme, u, "plain", "scram-sha-256", "scram-sha-512")
	if err != nil {
		return nil, err
	}
	switch mech {
	case "plain":
		p.clientOpts = append(p.clientOpts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case "scram-sha-256":
		p.clientOpts = append(p.clientOpts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case "scram-sha-512":
		p.clientOpts = append(p.clientOpts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	}
	return p, nil
}

// topicOptions reads the producer parameters: the TopicOptions and the
// client's options.
func (p *parsed) topicOptions() (*TopicOptions, []kgo.Opt, error) {
	var o TopicOptions
	var err error
	if o.MaxBodySize, err = p.q.IntIn(Scheme, "max_body", 1, 1<<30); err != nil {
		return nil, nil, err
	}
	opts := p.clientOpts
	if d, err := p.q.DurationIn(Scheme, "linger", 0, time.Minute); err != nil {
		return nil, nil, err
	} else if p.q.Has("linger") {
		opts = append(opts, kgo.ProducerLinger(d))
	}
	if n, err := p.q.IntIn(Scheme, "batch_max_bytes", 1024, 1<<30); err != nil {
		return nil, nil, err
	} else if n > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(n)))
	}
	if v, err := p.q.OneOf(Scheme, "compression", "none", "gzip", "snappy", "lz4", "zstd"); err != nil {
		return nil, nil, err
	} else if v != "" {
		opts = append(opts, kgo.ProducerBatchCompression(compressions[v]))
	}
	return &o, opts, nil
}

// subscriptionOptions reads the subscription parameters.
func (p *parsed) subscriptionOptions() (*SubscriptionOptions, error) {
	q := p.q
	o := &SubscriptionOptions{}
	var err error
	if o.Mode, o.Start, err = modeAndStart(q); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		k string
		p *time.Duration
	}{{"lease", &o.Lease}, {"commit_interval", &o.CommitInterval}, {"idle_leave", &o.IdleLeave}, {"revoke_wait", &o.RevokeWait}} {
		if *d.p, err = q.DurationIn(Scheme, d.k, 1, math.MaxInt64); err != nil {
			return nil, err
		}
	}
	if o.MaxAttempts, err = q.IntIn(Scheme, "max_attempts", 0, 1<<20); err != nil {
		return nil, err
	}
	if o.MaxPollRecords, err = q.IntIn(Scheme, "max_poll_records", 1, 1<<20); err != nil {
		return nil, err
	}
	if o.Ordered, err = q.Bool(Scheme, "ordered"); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		k string
		p *string
	}{{"dead_letter", &o.DeadLetterTopic}, {"retry_topic", &o.RetryTopic}} {
		if v, ok := q[t.k]; ok {
			if checkName(t.k, v) != nil {
				return nil, q.Want(Scheme, t.k, "a topic name (1 to 249 bytes of a-z A-Z 0-9 . _ -)")
			}
			*t.p = v
		}
	}
	for _, c := range []struct {
		k string
		f func(time.Duration) kgo.GroupOpt
	}{{"session_timeout", kgo.SessionTimeout}, {"heartbeat_interval", kgo.HeartbeatInterval}, {"rebalance_timeout", kgo.RebalanceTimeout}} {
		if d, err := q.DurationIn(Scheme, c.k, 1, math.MaxInt64); err != nil {
			return nil, err
		} else if d > 0 {
			o.ClientOpts = append(o.ClientOpts, c.f(d))
		}
	}
	if d, err := q.DurationIn(Scheme, "fetch_max_wait", 1, math.MaxInt64); err != nil {
		return nil, err
	} else if d > 0 {
		o.ClientOpts = append(o.ClientOpts, kgo.FetchMaxWait(d))
	}
	return o, nil
}

// modeAndStart reads the mode and start parameters.
func modeAndStart(q driver.Query) (Mode, Start, error) {
	mode, err := q.OneOf(Scheme, "mode", "group", "share")
	if err != nil {
		return 0, 0, err
	}
	start, err := q.OneOf(Scheme, "start", "latest", "earliest")
	if err != nil {
		return 0, 0, err
	}
	m, st := GroupMode, StartLatest
	if mode == "share" {
		m = ShareMode
	}
	if start == "earliest" {
		st = StartEarliest
	}
	return m, st, nil
}

// compressions are the codecs of the compression parameter.
var compressions = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}
