package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/memdriver"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const memLease = 200 * time.Millisecond

// memProvision provisions mem:// resources; emulate makes every handle
// declare lease, nack delay, delay and dead-lettering as missing, so that
// mq's emulation of them runs.
func memProvision(mux *mq.URLMux, emulate bool) func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
	return func(ctx context.Context, spec conformance.Spec) (*conformance.Resources, error) {
		topic := spec.Name
		tq := url.Values{}
		if spec.DedupWindow > 0 {
			tq.Set("dedup_window", spec.DedupWindow.String())
		}
		sq := url.Values{}
		sq.Set("visibility", spec.Lease.String())
		if spec.MaxAttempts > 0 {
			sq.Set("max_attempts", strconv.Itoa(spec.MaxAttempts))
		}
		if spec.Ordered {
			sq.Set("ordered", "true")
		}
		if spec.Retention > 0 {
			sq.Set("retention", spec.Retention.String())
		}
		res := &conformance.Resources{TopicURL: "mem://" + topic}
		dlq := ""
		if spec.DeadLetter {
			dlq = topic + "-dlq"
			sq.Set("dead_letter", dlq)
			res.DeadLetterURL = "mem://" + dlq + "/dlq"
		}
		if emulate {
			tq.Set("emulate", "delay") // the only thing a producer emulates
			sq.Set("emulate", "all")
		}
		if len(tq) > 0 {
			res.TopicURL += "?" + tq.Encode()
		}
		var subs []string
		for i := range spec.Subscriptions {
			name := fmt.Sprintf("sub-%d", i)
			if i == 0 && spec.SubscriptionName != "" {
				name = spec.SubscriptionName
			}
			subs = append(subs, name)
			u := "mem://" + topic + "/" + name + "?" + sq.Encode()
			// Opening creates the subscription (and its dead-letter topic).
			s, err := mux.OpenSubscription(ctx, u)
			if err != nil {
				return nil, err
			}
			if err := s.Shutdown(ctx); err != nil {
				return nil, err
			}
			res.SubscriptionURLs = append(res.SubscriptionURLs, u)
		}
		res.Cleanup = func(ctx context.Context) error {
			a, err := mux.OpenAdmin(ctx, "mem://")
			if err != nil {
				return err
			}
			var errs []error
			for _, s := range subs {
				errs = append(errs, a.DeleteSubscription(ctx, topic, s))
			}
			errs = append(errs, a.DeleteTopic(ctx, topic))
			if dlq != "" {
				errs = append(errs, a.DeleteSubscription(ctx, dlq, "dlq"), a.DeleteTopic(ctx, dlq))
			}
			errs = append(errs, a.Close())
			return errors.Join(errs...)
		}
		return res, nil
	}
}

// memHarness opens handles of the default Engine through an outage
// wrapper (see outage_test.go) so that the harness can simulate a broker
// restart. It runs on real time.
func memHarness(name string, emulate bool) conformance.Harness {
	o := &outage{l: memLease}
	mux := o.mux()
	return conformance.Harness{
		Name:      name,
		Mux:       mux,
		Provision: memProvision(mux, emulate),
		Lease:     memLease,
		Restart:   o.restart,
		Cut:       o.cut,
	}
}

// memFakeHarness is memHarness under fake time: each case runs in a
// testing/synctest bubble with an Engine and an outage of its own (a
// channel or timer made in one bubble cannot be used in another), which
// the harness's mux, Restart and Cut reach through cur.
func memFakeHarness(name string, emulate bool) conformance.Harness {
	var cur atomic.Pointer[outageOpener]
	mux := new(mq.URLMux)
	mux.Register(memdriver.Scheme, &bubbleOpener{cur: &cur})
	return conformance.Harness{
		Name:      name,
		Mux:       mux,
		Provision: memProvision(mux, emulate),
		Lease:     memLease,
		Restart:   func(ctx context.Context) error { return cur.Load().o.restart(ctx) },
		Cut:       func(ctx context.Context, d time.Duration) error { return cur.Load().o.cut(ctx, d) },
		Wrap: func(t *testing.T, run func(t *testing.T)) {
			synctest.Test(t, func(t *testing.T) {
				o := &outage{l: memLease}
				cur.Store(o.opener(memdriver.New(nil)))
				t.Cleanup(func() { cur.Store(nil) }) // after the case's cleanups
				run(t)
			})
		},
	}
}

// bubbleOpener opens through the running case's outageOpener.
type bubbleOpener struct{ cur *atomic.Pointer[outageOpener] }

func (b *bubbleOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	return b.cur.Load().OpenTopic(ctx, u)
}

func (b *bubbleOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	return b.cur.Load().OpenSubscription(ctx, u)
}

func (b *bubbleOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	return b.cur.Load().OpenAdmin(ctx, u)
}

// TestMem and TestMemEmulated run the suite on mem under fake time, which
// takes a fraction of the real leases' time; TestMemRealTime runs it once
// more on real time, where goroutines race the clock as they do on a
// network backend.
func TestMem(t *testing.T) {
	t.Parallel()
	conformance.Run(t, memFakeHarness("mem", false))
}

func TestMemEmulated(t *testing.T) {
	t.Parallel()
	conformance.Run(t, memFakeHarness("mem-emulated", true))
}

func TestMemRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time run skipped in -short mode; TestMem runs the suite under fake time")
	}
	t.Parallel()
	conformance.Run(t, memHarness("mem-realtime", false))
}

// TestCheckReportsBrokenHarness shows that Check itself can fail: a harness
// that cannot provision fails every case that needs resources.
func TestCheckReportsBrokenHarness(t *testing.T) {
	broken := errors.New("no broker here")
	var sb strings.Builder
	rep, err := conformance.Check(t.Context(), conformance.Harness{
		Name:      "broken",
		Lease:     memLease,
		Provision: func(context.Context, conformance.Spec) (*conformance.Resources, error) { return nil, broken },
	}, &sb)
	if err == nil {
		t.Fatalf("Check with a broken harness returned nil error; report: %+v", rep)
	}
	if len(rep.Results) != len(conformance.Cases()) {
		t.Fatalf("report has %d results, want one per case (%d)", len(rep.Results), len(conformance.Cases()))
	}
	if rep.Count(conformance.Fail) < len(rep.Results)/2 {
		t.Errorf("only %d of %d cases failed with a broken harness", rep.Count(conformance.Fail), len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Status == conformance.Fail && !strings.Contains(r.Message, broken.Error()) {
			t.Errorf("failed case %s does not report the provisioning error: %q", r.Name, r.Message)
		}
		if r.Status == conformance.Pass {
			t.Logf("passes without resources: %s", r.Name)
		}
		if r.Name == "ConsumerSurvivesBrokerRestart" && (r.Status != conformance.Skip || !strings.Contains(r.Message, "cannot restart")) {
			t.Errorf("reconnect case without Harness.Restart: %v %q, want a skip saying why", r.Status, r.Message)
		}
	}
	if !strings.Contains(sb.String(), "--- FAIL") {
		t.Errorf("progress output has no FAIL line:\n%s", sb.String())
	}
	if !strings.Contains(err.Error(), "failed") {
		t.Errorf("Check error %q does not say cases failed", err)
	}
}

func TestCheckRejectsHarnessWithoutProvision(t *testing.T) {
	if _, err := conformance.Check(t.Context(), conformance.Harness{Name: "empty"}, nil); err == nil {
		t.Fatal("Check with a nil Provision returned nil error")
	}
}

func TestCasesCoverEveryRule(t *testing.T) {
	names := map[string]bool{}
	rules := map[string]bool{}
	for _, c := range conformance.Cases() {
		if names[c.Name] {
			t.Errorf("case name %s used twice", c.Name)
		}
		names[c.Name] = true
		if c.Description == "" || !strings.HasSuffix(c.Description, ".") {
			t.Errorf("case %s: description %q is not one sentence", c.Name, c.Description)
		}
		n, _, _ := strings.Cut(c.Rule, " ")
		rules[n] = true
	}
	for i := 1; i <= 15; i++ {
		if !rules[strconv.Itoa(i)] {
			t.Errorf("no case checks rule %d", i)
		}
	}
}

// TestHarnessSkipSkipsNamedCasesWithTheirReason checks Harness.Skip: the
// named case is skipped with the harness's reason, others run, and a name
// that is no case is refused.
func TestHarnessSkipSkipsNamedCasesWithTheirReason(t *testing.T) {
	h := memHarness("mem-skip", false)
	h.Skip = map[string]string{"SeekRedeliversRetainedMessages": "the test server crashes on replay"}
	h.Provision = func(context.Context, conformance.Spec) (*conformance.Resources, error) {
		return nil, errors.New("no resources in this test")
	}
	rep, _ := conformance.Check(t.Context(), h, nil)
	found := false
	for _, r := range rep.Results {
		if r.Name != "SeekRedeliversRetainedMessages" {
			continue
		}
		found = true
		if r.Status != conformance.Skip || !strings.Contains(r.Message, "crashes on replay") {
			t.Errorf("skipped case: %v %q, want a skip with the harness's reason", r.Status, r.Message)
		}
	}
	if !found {
		t.Fatal("no result for SeekRedeliversRetainedMessages")
	}
	if rep.Count(conformance.Fail) == 0 {
		t.Error("no other case ran (every other case needs resources and must fail here)")
	}
	h.Skip = map[string]string{"NoSuchCase": "typo"}
	if _, err := conformance.Check(t.Context(), h, nil); err == nil || !strings.Contains(err.Error(), "NoSuchCase") {
		t.Errorf("Check with Skip naming no case: %v, want an error naming it", err)
	}
}
