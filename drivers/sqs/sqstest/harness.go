package sqstest

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/conformance/faultproxy"
	"github.com/portmq/portmq/mq"
)

// Mode says how a conformance harness maps a Spec to SQS and SNS.
type Mode int

const (
	// SQS: the topic is a queue and the subscription the queue itself. A
	// Spec with several subscriptions (fan-out) becomes an SNS topic with
	// one queue per subscription, read through sqs:// URLs: SQS fans out
	// only behind SNS.
	SQS Mode = iota
	// SNS: the topic is an SNS topic and each subscription an SQS queue
	// subscribed to it with raw message delivery, read through
	// sns://TOPIC/QUEUE URLs.
	SNS
	// FIFO: like SQS, with FIFO queues (and topics) for every Spec.
	FIFO
)

// Lease is the lease the harnesses use: the shortest SQS visibility
// timeout (whole seconds) that leaves room for moto's latency on a loaded
// machine. mq's Consumer extends a lease when less than half of it is
// left, looking every third of a lease, so an extension may start with a
// sixth of the lease left; with 1 s that is 170 ms, and moto, loaded,
// took 390 ms to apply a ChangeMessageVisibility, after the message had
// been redelivered.
const Lease = 2 * time.Second

// Harness returns a conformance harness for the server and a function
// that releases it. Its URLs reach the server through a Proxy, so that
// Restart can cut the connection for a while (moto loses its state when
// restarted, SQS never restarts); against real AWS it has no Restart. The
// sqs:// and sns:// schemes must be registered (import both drivers).
func (s *Server) Harness(name string, mode Mode) (conformance.Harness, func(), error) {
	h := conformance.Harness{Name: name, Lease: Lease, Granularity: time.Second}
	query := s.Query()
	release := func() {}
	if s.Endpoint != "" {
		eu, err := url.Parse(s.Endpoint)
		if err != nil {
			return h, nil, err
		}
		p, err := faultproxy.Start(eu.Host)
		if err != nil {
			return h, nil, err
		}
		v := url.Values{}
		v.Set("region", s.Region)
		v.Set("endpoint", "http://"+p.Addr())
		query = v.Encode()
		release = func() { _ = p.Close() }
		h.Restart = func(ctx context.Context) error {
			// Down for one lease, and for another one after Restart
			// returns, as clients reconnect after a restart.
			if err := p.Outage(ctx, Lease); err != nil {
				return err
			}
			p.Cut(Lease)
			return nil
		}
		h.Cut = p.CutContext
	}
	h.Provision = func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		return s.provision(ctx, spec, mode, query)
	}
	return h, release, nil
}

func (s *Server) provision(ctx context.Context, spec conformance.Spec, mode Mode, query string) (*conformance.Resources, error) {
	fifo := spec.Ordered || spec.DedupWindow > 0 || mode == FIFO
	suffix := ""
	if fifo {
		suffix = ".fifo"
	}
	sqsAdmin, err := mq.OpenAdmin(ctx, "sqs://?"+s.Query())
	if err != nil {
		return nil, err
	}
	defer sqsAdmin.Close()
	subCfg := mq.SubscriptionConfig{Lease: spec.Lease, MaxAttempts: spec.MaxAttempts, Ordered: spec.Ordered}
	res := &conformance.Resources{}
	var undo []func(context.Context) error
	cleanup := func(ctx context.Context) error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i](ctx))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*conformance.Resources, error) {
		_ = cleanup(context.WithoutCancel(ctx))
		return nil, err
	}
	dlq := ""
	if spec.DeadLetter || spec.MaxAttempts > 0 {
		dlq = spec.Name + "-dlq" + suffix
		subCfg.DeadLetterTopic = dlq
		res.DeadLetterURL = "sqs://" + dlq + "?" + query + "&wait=1s"
		undo = append(undo, func(ctx context.Context) error { return s.deleteQueue(ctx, dlq) })
	}
	if mode != SNS && spec.Subscriptions <= 1 {
		q := spec.Name + suffix
		if spec.SubscriptionName != "" {
			// The queue is topic and subscription at once: SQS names are
			// global, so the name on another topic is the same queue.
			q = spec.SubscriptionName + suffix
		}
		if err := sqsAdmin.CreateTopic(ctx, q, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
			return fail(err)
		}
		undo = append(undo, func(ctx context.Context) error { return s.deleteQueue(ctx, q) })
		if err := sqsAdmin.CreateSubscription(ctx, q, q, subCfg); err != nil {
			return fail(err)
		}
		res.TopicURL = "sqs://" + q + "?" + query
		res.SubscriptionURLs = []string{"sqs://" + q + "?" + query + "&wait=1s"}
		res.Cleanup = cleanup
		return res, nil
	}
	snsAdmin, err := mq.OpenAdmin(ctx, "sns://?"+s.Query())
	if err != nil {
		return fail(err)
	}
	defer snsAdmin.Close()
	topic := spec.Name + suffix
	if err := snsAdmin.CreateTopic(ctx, topic, mq.TopicConfig{DedupWindow: spec.DedupWindow}); err != nil {
		return fail(err)
	}
	undo = append(undo, func(ctx context.Context) error {
		return s.withAdmin(ctx, "sns", func(a *mq.Admin) error { return a.DeleteTopic(ctx, topic) })
	})
	res.TopicURL = "sns://" + topic + "?" + query
	for i := range max(spec.Subscriptions, 1) {
		q := spec.Name + "-s" + strconv.Itoa(i) + suffix
		if i == 0 && spec.SubscriptionName != "" {
			q = spec.SubscriptionName + suffix
		}
		if err := snsAdmin.CreateSubscription(ctx, topic, q, subCfg); err != nil {
			return fail(err)
		}
		undo = append(undo, func(ctx context.Context) error {
			return s.withAdmin(ctx, "sns", func(a *mq.Admin) error { return a.DeleteSubscription(ctx, topic, q) })
		})
		if mode == SNS {
			res.SubscriptionURLs = append(res.SubscriptionURLs, "sns://"+topic+"/"+q+"?"+query+"&wait=1s")
		} else {
			res.SubscriptionURLs = append(res.SubscriptionURLs, "sqs://"+q+"?"+query+"&wait=1s")
		}
	}
	res.Cleanup = cleanup
	return res, nil
}

// withAdmin runs f with an admin of scheme (sqs or sns) on the server.
func (s *Server) withAdmin(ctx context.Context, scheme string, f func(*mq.Admin) error) error {
	a, err := mq.OpenAdmin(ctx, scheme+"://?"+s.Query())
	if err != nil {
		return err
	}
	defer a.Close()
	return f(a)
}

// deleteQueue deletes a queue, ignoring that it is gone already.
func (s *Server) deleteQueue(ctx context.Context, queue string) error {
	return s.withAdmin(ctx, "sqs", func(a *mq.Admin) error {
		if err := a.DeleteTopic(ctx, queue); err != nil && !errors.Is(err, mq.ErrNotFound) {
			return err
		}
		return nil
	})
}

// RunConformance runs the conformance suite on the server through a
// harness of the given mode (see Harness).
func RunConformance(t *testing.T, name string, mode Mode) {
	t.Helper()
	srv := Shared(t)
	h, release, err := srv.Harness(name, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	conformance.Run(t, h)
}
