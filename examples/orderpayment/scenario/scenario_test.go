package scenario

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	_ "github.com/portmq/portmq/memdriver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// small returns a quick configuration on fresh mem:// resources named
// after name, with enough poison and duplicates to see each kind.
func small(name, subParams string) Config {
	c := DefaultConfig()
	c.ProducerURL = "mem://" + name
	c.SubscriptionURL = "mem://" + name + "/payments?max_attempts=4&dead_letter=" + name + ".dlq" + subParams
	c.DLQURL = "mem://" + name + ".dlq/dlq"
	c.Orders, c.Burst, c.Rate = 1000, 100*time.Millisecond, 0
	c.FailRate, c.PoisonRate, c.DupRate = 0.2, 0.02, 0.1
	c.Timeout = time.Minute
	return c
}

func TestEveryOrderIsPaidExactlyOnceAndPoisonIsDeadLettered(t *testing.T) {
	for _, tc := range []struct {
		name, params string
	}{
		{"native", ""},
		// mq emulates lease, nack delay, delay and dead-lettering on top of
		// a backend without them; the outcome must be the same.
		{"emulated", "&emulate=all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := small("op-"+tc.name, tc.params)
			var out bytes.Buffer
			sum, err := Run(context.Background(), c, &out)
			if err != nil {
				t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
			}
			p := newPlan(c)
			if sum.Sent != c.Orders+p.dups || sum.DuplicatesSent != p.dups || p.dups == 0 {
				t.Errorf("sent %d with %d duplicates, want %d with %d (>0)", sum.Sent, sum.DuplicatesSent, c.Orders+p.dups, p.dups)
			}
			if sum.PoisonOrders == 0 || sum.Paid != c.Orders-sum.PoisonOrders {
				t.Errorf("paid %d of %d orders with %d poison", sum.Paid, c.Orders, sum.PoisonOrders)
			}
			if sum.DeadLettered < sum.PoisonOrders || sum.DeadLetteredPermanent == 0 || sum.DeadLetteredMaxAttempts == 0 {
				t.Errorf("dead letters: %d (%d permanent, %d max attempts) for %d poison orders",
					sum.DeadLettered, sum.DeadLetteredPermanent, sum.DeadLetteredMaxAttempts, sum.PoisonOrders)
			}
			if sum.Retried == 0 || sum.DuplicatesSuppressed == 0 {
				t.Errorf("retried %d, duplicates suppressed %d: want both > 0", sum.Retried, sum.DuplicatesSuppressed)
			}
			if got := out.String(); !strings.Contains(got, "summary\n") || !strings.HasSuffix(got, "OK\n") {
				t.Errorf("output lacks the summary or the OK line:\n%s", got)
			}
		})
	}
}

func TestRunRefusesASubscriptionWithoutDeadLetters(t *testing.T) {
	c := small("op-nodlq", "")
	c.SubscriptionURL = "mem://op-nodlq/payments"
	_, err := Run(context.Background(), c, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "dead-letter") {
		t.Fatalf("Run = %v, want an error about the dead-letter destination", err)
	}
}

func TestRunReportsABadURL(t *testing.T) {
	c := small("op-badurl", "")
	c.ProducerURL = "nosuch://orders"
	_, err := Run(context.Background(), c, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("Run = %v, want an error naming the scheme", err)
	}
}

func TestRunStopsWhenItsContextEnds(t *testing.T) {
	c := small("op-cancel", "")
	c.Orders, c.Rate = 5000, 100 // would take 50 s
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Run(ctx, c, &bytes.Buffer{}); err == nil {
		t.Fatal("Run returned nil after its context ended")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v to stop", d)
	}
}

func TestValidateRejectsNonsense(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no orders":       func(c *Config) { c.Orders = 0 },
		"negative burst":  func(c *Config) { c.Burst = -time.Second },
		"negative rate":   func(c *Config) { c.Rate = -1 },
		"no concurrency":  func(c *Config) { c.Concurrency = 0 },
		"fail rate > 1":   func(c *Config) { c.FailRate = 1.5 },
		"rates sum > 1":   func(c *Config) { c.FailRate, c.PoisonRate = 0.6, 0.6 },
		"no producer URL": func(c *Config) { c.ProducerURL = "" },
		"zero timeout":    func(c *Config) { c.Timeout = 0 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

func TestPlanIsDeterministicAndSendsEachDuplicateAfterItsOriginal(t *testing.T) {
	c := DefaultConfig()
	c.Orders, c.DupRate, c.PoisonRate = 2000, 0.1, 0.01
	a, b := newPlan(c), newPlan(c)
	if len(a.sends) != len(b.sends) || a.dups != b.dups {
		t.Fatal("two plans from one seed differ")
	}
	if len(a.sends) != c.Orders+a.dups {
		t.Fatalf("plan sends %d messages, want %d", len(a.sends), c.Orders+a.dups)
	}
	seen := make([]int, c.Orders)
	for i, n := range a.sends {
		if n != b.sends[i] {
			t.Fatal("two plans from one seed differ")
		}
		seen[n]++
		if seen[n] > 2 {
			t.Fatalf("order %d sent %d times", n, seen[n])
		}
	}
	for n, k := range seen {
		if k == 0 {
			t.Fatalf("order %d never sent", n)
		}
	}
}
