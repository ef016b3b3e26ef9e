package gocloud_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	_ "github.com/portmq/portmq/drivers/gocloud"
	"github.com/portmq/portmq/mq"
)

// memLease is the lease of the gocloud+mem harness. mempubsub's
// ReceiveBatch sleeps 250 ms when it has nothing, so "promptly" (3 leases)
// must leave room for a few of those.
const memLease = 400 * time.Millisecond

// memProvision provisions gocloud+mem resources: one mempubsub topic per
// case, a named subscription per Spec.Subscriptions (opening it creates
// it; the driver keeps it), and a dead-letter topic with a subscription
// named dlq. Retries go back to the topic (the default for mem).
func memProvision(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	topic := spec.Name
	res := &conformance.Resources{TopicURL: "gocloud+mem://" + topic}
	q := url.Values{}
	q.Set("visibility", spec.Lease.String())
	q.Set("ackdeadline", "1m") // mempubsub's own deadline, well above any lease of the suite
	if spec.MaxAttempts > 0 {
		q.Set("max_attempts", strconv.Itoa(spec.MaxAttempts))
	}
	if spec.DeadLetter {
		dlq := topic + "-dlq"
		q.Set("dead_letter", "mem://"+dlq)
		res.DeadLetterURL = "gocloud+mem://" + dlq + "?name=dlq"
		if err := create(ctx, res.DeadLetterURL); err != nil {
			return nil, err
		}
	}
	for i := range spec.Subscriptions {
		name := fmt.Sprintf("sub-%d", i)
		if i == 0 && spec.SubscriptionName != "" {
			name = spec.SubscriptionName
		}
		u := "gocloud+mem://" + topic + "?name=" + name + "&" + q.Encode()
		if err := create(ctx, u); err != nil {
			return nil, err
		}
		res.SubscriptionURLs = append(res.SubscriptionURLs, u)
	}
	return res, nil
}

// create opens and shuts down a subscription, which creates it.
func create(ctx context.Context, u string) error {
	s, err := mq.OpenSubscription(ctx, u)
	if err != nil {
		return err
	}
	return s.Shutdown(ctx)
}

func TestConformanceMem(t *testing.T) {
	t.Parallel()
	conformance.Run(t, conformance.Harness{
		Name:      "gocloud+mem",
		Provision: memProvision,
		Lease:     memLease,
	})
}
