package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/drivers/postgres"
	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq"
)

func testenvUnavailable(t testing.TB, err error) {
	t.Helper()
	testenv.Unavailable(t, "PostgreSQL", err, howToStart)
}

// provision creates a topic and subscriptions through the driver's admin
// and returns their URLs.
// The admin works on base; the handles' URLs are on handles (the same
// server, through a fault proxy).
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
		var dlqs []string
		for i := range spec.Subscriptions {
			name := topic + ".s" + strconv.Itoa(i)
			if i == 0 && spec.SubscriptionName != "" {
				name = spec.SubscriptionName
			}
			cfg := mq.SubscriptionConfig{MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered, Retention: spec.Retention, Lease: spec.Lease}
			if spec.DeadLetter {
				cfg.DeadLetterTopic = name + ".dlq"
			}
			if spec.DeadLetter || spec.MaxAttempts > 0 {
				dlqs = append(dlqs, name+".dlq") // also the default of max_attempts
			}
			if err := a.CreateSubscription(ctx, topic, name, cfg); err != nil {
				return nil, err
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, withQuery(handles, "topic", topic, "subscription", name,
				"visibility", spec.Lease.String(), "poll_interval", "1s"))
		}
		if spec.DeadLetter {
			res.DeadLetterURL = withQuery(handles, "topic", dlqs[0], "subscription", dlqs[0], "poll_interval", "1s")
		}
		res.Cleanup = func(ctx context.Context) error {
			a, err := mq.OpenAdmin(ctx, base)
			if err != nil {
				return err
			}
			defer a.Close()
			var errs []error
			for _, d := range dlqs {
				errs = append(errs, a.DeleteTopic(ctx, d))
			}
			errs = append(errs, a.DeleteTopic(ctx, topic))
			return errors.Join(errs...)
		}
		return res, nil
	}
}

// cutConnections terminates every server connection of this test run
// (pools, LISTEN connections): what a server restart or a network cut
// does to the clients, without taking the shared server down.
func cutConnections(ctx context.Context) error {
	c, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName)
	return err
}

func TestConformance(t *testing.T) {
	base := serverURL(t)
	handles, px := faultproxy.InFront(t, base)
	cut := px.CutContext
	conformance.Run(t, conformance.Harness{
		Name:      "postgres",
		Provision: provision(base, handles),
		Lease:     time.Second,
		Restart:   cutConnections,
		Cut:       cut,
	})
}

func TestIdempotencyStoreConformance(t *testing.T) {
	pool := newPool(t)
	conformance.RunIdempotencyStore(t, conformance.StoreHarness{
		Name: "postgres",
		New: func(ctx context.Context, retention time.Duration) (mq.IdempotencyStore, error) {
			return postgres.NewIdempotencyStore(pool, &postgres.StoreOptions{Schema: testSchema, Retention: retention})
		},
	})
}
