package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// A test that cannot fail is a bug: each sabotage below breaks one rule in
// a wrapper around the memdriver, and the case for that rule must fail.

type sabotage int

const (
	ackNoop sabotage = iota
	nackIgnoresDelay
	extendNoop
	dropAttributes
	dropDelay
	attemptStuck
	leakPassword
	redeliverAcked
)

func TestCasesFailOnBrokenDriver(t *testing.T) {
	for _, c := range []struct {
		sab  sabotage
		name string // the case that must fail
	}{
		{ackNoop, "AckedMessageIsNotRedelivered"},
		{nackIgnoresDelay, "NackWithDelayIsNotRedeliveredEarly"},
		{extendNoop, "ExtendedLeaseIsNotRedelivered"},
		{dropAttributes, "MessagesSurviveRoundTrip"},
		{dropAttributes, "NackedToMaxAttemptsIsDeadLettered"},
		{dropDelay, "DelayedMessageIsNotDeliveredEarly"},
		{attemptStuck, "UnackedMessageIsRedeliveredAfterLease"},
		{leakPassword, "ErrorsNeverContainPassword"},
		{redeliverAcked, "DoubleSettleReturnsErrSettled"},
	} {
		// Under fake time (a bubble each), as TestMem runs the suite.
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var cd *caseDef
				for i := range allCases {
					if allCases[i].Name == c.name {
						cd = &allCases[i]
					}
				}
				if cd == nil {
					t.Fatalf("no case %s", c.name)
				}
				mux := new(mq.URLMux)
				mux.Register(memdriver.Scheme, &sabOpener{sab: c.sab, inner: memdriver.New(nil).Opener()})
				s := newSuite(Harness{Name: "sabotaged", Mux: mux, Provision: sabProvision(mux), Lease: 200 * time.Millisecond})
				res := runRecorded(t.Context(), cd, s, nil, time.Minute)
				if res.Status != Fail {
					t.Errorf("case %s: status %v on a driver with sabotage %d, want FAIL; log:\n%s", c.name, res.Status, c.sab, res.Message)
				} else {
					t.Logf("fails as it must:\n%s", res.Message)
				}
			})
		})
	}
}

func sabProvision(mux *mq.URLMux) func(ctx context.Context, spec Spec) (*Resources, error) {
	return func(ctx context.Context, spec Spec) (*Resources, error) {
		q := url.Values{}
		q.Set("visibility", spec.Lease.String())
		if spec.MaxAttempts > 0 {
			q.Set("max_attempts", strconv.Itoa(spec.MaxAttempts))
		}
		res := &Resources{TopicURL: "mem://" + spec.Name}
		if spec.DeadLetter {
			q.Set("dead_letter", spec.Name+"-dlq")
			res.DeadLetterURL = "mem://" + spec.Name + "-dlq/dlq"
		}
		for i := range spec.Subscriptions {
			u := fmt.Sprintf("mem://%s/sub-%d?%s", spec.Name, i, q.Encode())
			s, err := mux.OpenSubscription(ctx, u)
			if err != nil {
				return nil, err
			}
			if err := s.Shutdown(ctx); err != nil {
				return nil, err
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, u)
		}
		return res, nil
	}
}

type sabOpener struct {
	sab   sabotage
	inner driver.Opener
}

func (o *sabOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	if o.sab == leakPassword && u.User != nil {
		return nil, errors.New("cannot open " + u.String())
	}
	t, err := o.inner.OpenTopic(ctx, u)
	if err != nil {
		return nil, err
	}
	return &sabTopic{Topic: t, sab: o.sab}, nil
}

func (o *sabOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	if o.sab == leakPassword && u.User != nil {
		return nil, errors.New("cannot open " + u.String())
	}
	s, err := o.inner.OpenSubscription(ctx, u)
	if err != nil {
		return nil, err
	}
	return &sabSub{Subscription: s, sab: o.sab}, nil
}

type sabTopic struct {
	driver.Topic
	sab sabotage
}

func (t *sabTopic) SendBatch(ctx context.Context, msgs []driver.Message) error {
	if t.sab == dropDelay {
		for i := range msgs {
			msgs[i].Delay = 0
		}
	}
	return t.Topic.SendBatch(ctx, msgs)
}

type sabSub struct {
	driver.Subscription
	sab sabotage
}

func (s *sabSub) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	n, err := s.Subscription.ReceiveBatch(ctx, dst)
	for i := range dst[:n] {
		switch s.sab {
		case dropAttributes:
			for k := range dst[i].Attributes {
				if !strings.HasPrefix(k, driver.AttrPrefix) {
					dst[i].Attributes = nil
					break
				}
			}
		case attemptStuck:
			dst[i].Attempt = 1
		}
	}
	return n, err
}

func (s *sabSub) Ack(ctx context.Context, ids []driver.AckID) error {
	switch s.sab {
	case ackNoop:
		return nil
	case redeliverAcked:
		// Every ack is a nack: the acked message comes back.
		return s.Subscription.Nack(ctx, ids, 0)
	}
	return s.Subscription.Ack(ctx, ids)
}

func (s *sabSub) Nack(ctx context.Context, ids []driver.AckID, d time.Duration) error {
	if s.sab == nackIgnoresDelay {
		d = 0
	}
	return s.Subscription.Nack(ctx, ids, d)
}

func (s *sabSub) Extend(ctx context.Context, ids []driver.AckID, d time.Duration) error {
	if s.sab == extendNoop {
		return nil
	}
	if e, ok := s.Subscription.(driver.Extender); ok {
		return e.Extend(ctx, ids, d)
	}
	return nil
}

func (s *sabSub) DeadLetter(ctx context.Context, items []driver.DeadLetter) error {
	return s.Subscription.(driver.DeadLetterer).DeadLetter(ctx, items)
}

func (s *sabSub) Seek(ctx context.Context, t time.Time) error {
	return s.Subscription.(driver.Seeker).Seek(ctx, t)
}
