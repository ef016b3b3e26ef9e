package watermill_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

// gcLease is the lease of the watermill+gctest harness: mq keeps it in
// the process, and the GoChannel hands messages over at once.
const gcLease = 500 * time.Millisecond

// gcProvision provisions one case on the test GoChannel: a subscription
// per Spec.Subscriptions (opening one creates it for the process), and a
// dead-letter topic with a subscription named dlq.
func gcProvision(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	topic := spec.Name
	res := &conformance.Resources{TopicURL: "watermill+gctest://" + topic}
	q := url.Values{}
	q.Set("visibility", spec.Lease.String())
	if spec.DeadLetter {
		dlq := topic + "-dlq"
		q.Set("dead_letter", dlq)
		res.DeadLetterURL = "watermill+gctest://" + dlq + "?subscription=dlq"
		if err := create(ctx, res.DeadLetterURL); err != nil {
			return nil, err
		}
	}
	for i := range spec.Subscriptions {
		name := "sub-" + strconv.Itoa(i)
		if i == 0 && spec.SubscriptionName != "" {
			name = spec.SubscriptionName
		}
		q.Set("subscription", name)
		u := "watermill+gctest://" + topic + "?" + q.Encode()
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

// TestConformanceGoChannel runs portmq's conformance suite on a Watermill
// GoChannel behind portmq, mq emulating lease, nack delay, delay and
// dead-letter on request.
func TestConformanceGoChannel(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name:      "watermill+gochannel",
		Provision: gcProvision,
		Lease:     gcLease,
	})
}
