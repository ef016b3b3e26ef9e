package rabbitmq_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/mq"
)

// confLease is the harness lease: every wait of the suite derives from it.
const confLease = time.Second

// provision creates a fanout exchange and quorum queues through the
// driver's admin on base and returns their URLs on handles (the same
// server, perhaps through a fault proxy).
func provision(base, handles string) func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	return func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		a, err := mq.OpenAdmin(ctx, base)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		topic := runPrefix + spec.Name
		// DedupWindow and Retention are not supported: the cases that ask
		// for them skip on the capabilities.
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{}); err != nil {
			return nil, err
		}
		res := &conformance.Resources{TopicURL: withQueryS(handles, "topic", topic)}
		var queues, dlqs []string
		for i := range spec.Subscriptions {
			q := fmt.Sprintf("%s.s%d", topic, i)
			if i == 0 && spec.SubscriptionName != "" {
				q = runPrefix + spec.SubscriptionName
			}
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
				dlqs = append(dlqs, cfg.DeadLetterTopic)
				kv = append(kv, "dead_letter", cfg.DeadLetterTopic)
			}
			if err := a.CreateSubscription(ctx, topic, q, cfg); err != nil {
				return nil, err
			}
			queues = append(queues, q)
			res.SubscriptionURLs = append(res.SubscriptionURLs, withQueryS(handles, kv...))
		}
		if spec.DeadLetter {
			res.DeadLetterURL = withQueryS(handles, "topic", dlqs[0], "subscription", dlqs[0])
		}
		res.Cleanup = func(ctx context.Context) error {
			a, err := mq.OpenAdmin(ctx, base)
			if err != nil {
				return err
			}
			defer a.Close()
			var errs []error
			for _, q := range queues {
				errs = append(errs, a.DeleteSubscription(ctx, topic, q))
			}
			for _, d := range dlqs {
				errs = append(errs, a.DeleteSubscription(ctx, d, d), a.DeleteTopic(ctx, d))
			}
			errs = append(errs, a.DeleteTopic(ctx, topic))
			return errors.Join(errs...)
		}
		return res, nil
	}
}

func withQueryS(base string, kv ...string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	var b strings.Builder
	b.WriteString(base)
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(sep)
		sep = "&"
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(escape(kv[i+1]))
	}
	return b.String()
}

func escape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "#", "%23", "?", "%3F")
	return r.Replace(s)
}

// restartBroker restarts the RabbitMQ application (rule 15), holding the
// broker lock exclusively so that no other package's test runs against
// it meanwhile. Waiting for the lock may take long (another package's
// tests hold it shared while they run), so the rabbitmqctl commands get a
// budget of their own rather than what is left of ctx; and once the
// application was stopped it is always started again.
func restartBroker(ctx context.Context) error {
	if err := brokerLock.Exclusive(); err != nil {
		return fmt.Errorf("broker lock: %w", err)
	}
	defer func() { _ = brokerLock.Shared() }()
	run := func(args ...string) error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(cctx, "rabbitmqctl", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	stopErr := run("stop_app")
	startErr := run("start_app")
	if startErr != nil {
		startErr = errors.Join(startErr, run("start_app"))
	}
	return errors.Join(stopErr, startErr, run("await_startup"))
}

func TestConformance(t *testing.T) {
	base := serverURL(t)
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "rabbitmq",
		Provision: provision(base, proxied),
		Lease:     confLease,
		Restart:   restartBroker,
		Cut:       cut,
	})
}
