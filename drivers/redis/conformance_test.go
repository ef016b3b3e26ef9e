package redis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/mq"
)

// confLease is the harness lease: every wait of the suite derives from it.
const confLease = time.Second

// provision creates a stream and consumer groups through the driver's
// admin on base and returns their URLs on handles (the same server and key
// prefix, through the fault proxy).
func provision(base, handles string) func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	return func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		a, err := mq.OpenAdmin(ctx, base)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		topic := spec.Name
		if err := a.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
			return nil, err
		}
		res := &conformance.Resources{TopicURL: withQuery(handles, "topic", topic)}
		var subs []string
		dlq := topic + ".dlq"
		for i := range spec.Subscriptions {
			s := fmt.Sprintf("s%d", i)
			if i == 0 && spec.SubscriptionName != "" {
				s = spec.SubscriptionName
			}
			cfg := mq.SubscriptionConfig{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered}
			kv := []string{"topic", topic, "subscription", s}
			if spec.Lease > 0 {
				kv = append(kv, "lease", spec.Lease.String())
			}
			if spec.DeadLetter || spec.MaxAttempts > 0 {
				cfg.DeadLetterTopic = dlq
			}
			if err := a.CreateSubscription(ctx, topic, s, cfg); err != nil {
				return nil, err
			}
			subs = append(subs, s)
			res.SubscriptionURLs = append(res.SubscriptionURLs, withQuery(handles, kv...))
		}
		if spec.DeadLetter {
			if err := a.CreateSubscription(ctx, dlq, "read", mq.SubscriptionConfig{}); err != nil {
				return nil, err
			}
			res.DeadLetterURL = withQuery(handles, "topic", dlq, "subscription", "read")
		}
		res.Cleanup = func(ctx context.Context) error {
			a, err := mq.OpenAdmin(ctx, base)
			if err != nil {
				return err
			}
			defer a.Close()
			var errs []error
			for _, s := range subs {
				errs = append(errs, a.DeleteSubscription(ctx, topic, s))
			}
			errs = append(errs, a.DeleteTopic(ctx, topic))
			if err := a.DeleteTopic(ctx, dlq); err != nil && !errors.Is(err, mq.ErrNotFound) {
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		}
		return res, nil
	}
}

func TestConformance(t *testing.T) {
	base := serverURL(t)
	proxied, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "redis",
		Provision: provision(base, proxied),
		Lease:     confLease,
		Cut:       cut,
		Skip: map[string]string{
			// The shared server keeps nothing on disk (--save ""
			// --appendonly no): a restart empties it, streams, groups and
			// acknowledged sends alike, which is what Redis without
			// persistence promises. TestConformanceRestart runs the case
			// on a server of its own with an append-only file.
			"ConsumerSurvivesBrokerRestart": "run by TestConformanceRestart on a persistent (AOF) server: the shared one keeps nothing on disk",
		},
	})
}
