package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq"
)

// Case describes one conformance case.
type Case struct {
	// Name is the case's name, as in go test -run Suite/Name.
	Name string
	// Rule is the rule of the contract the case checks, for example
	// "4 nack(delay)".
	Rule string
	// Description says in one sentence what the case checks.
	Description string
}

type caseDef struct {
	Case
	run func(t tb, s *suite)
}

// Cases lists every case in the order Run and Check run them.
func Cases() []Case {
	out := make([]Case, len(allCases))
	for i, c := range allCases {
		out[i] = c.Case
	}
	return out
}

// suite is the state shared by the cases of one run: the harness with its
// defaults filled in.
type suite struct {
	h   Harness
	mux *mq.URLMux
	tm  timing
}

func newSuite(h Harness) *suite {
	s := &suite{h: h, mux: h.Mux, tm: newTiming(&h)}
	if s.mux == nil {
		s.mux = mq.DefaultURLMux()
	}
	return s
}

func (s *suite) validate() error {
	if s.h.Provision == nil {
		return errors.New("conformance: Harness.Provision is nil")
	}
	if s.h.Lease < 0 {
		return errors.New("conformance: Harness.Lease is negative")
	}
	for name, reason := range s.h.Skip {
		if !slices.ContainsFunc(allCases, func(c caseDef) bool { return c.Name == name }) {
			return fmt.Errorf("conformance: Harness.Skip names %q, which is not a case", name)
		}
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("conformance: Harness.Skip gives no reason for %q", name)
		}
	}
	return nil
}

// runCase runs c unless the harness skips it.
func (s *suite) runCase(t tb, c *caseDef) {
	if reason, ok := s.h.Skip[c.Name]; ok {
		t.Skipf("skipped by harness %s: %s", s.h.Name, reason)
		return
	}
	c.run(t, s)
}

// Run runs every case as a subtest of t, named for the behaviour it checks.
// Call it from a driver's test:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{Name: "mem", Provision: provision, Lease: 200 * time.Millisecond})
//	}
func Run(t *testing.T, h Harness) {
	t.Helper()
	s := newSuite(h)
	if err := s.validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range allCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("rule %s: %s", c.Rule, c.Description)
			if h.Wrap == nil {
				s.runCase(t, &c)
				return
			}
			ran := false
			h.Wrap(t, func(t *testing.T) {
				ran = true
				s.runCase(t, &c)
			})
			if !ran && !t.Failed() && !t.Skipped() {
				t.Fatal("conformance: Harness.Wrap did not run the case")
			}
		})
	}
}

// Status is the outcome of one case.
type Status int

const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome of one case run by Check.
type Result struct {
	Name string
	Rule string
	// Status says whether the case passed, failed or was skipped.
	Status Status
	// Message holds what the case logged: the failures, or why it was
	// skipped.
	Message  string
	Duration time.Duration
}

// Report holds the results of Check, in the order of Cases.
type Report struct {
	Harness string
	Results []Result
}

// Count returns how many results have status st.
func (r Report) Count(st Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == st {
			n++
		}
	}
	return n
}

// Check runs the same cases as Run without package testing, for the CLI.
// It writes progress to w (nil: nowhere) and returns a result per case, and
// an error if the harness is unusable or any case failed. Cases run one
// after another; ctx bounds the whole check.
func Check(ctx context.Context, h Harness, w io.Writer) (Report, error) {
	s := newSuite(h)
	rep := Report{Harness: h.Name}
	if err := s.validate(); err != nil {
		return rep, err
	}
	limit := 30*s.tm.patience + 2*time.Minute
	var failed []string
	for _, c := range allCases {
		if w != nil {
			fmt.Fprintf(w, "=== RUN   %s (rule %s)\n", c.Name, c.Rule)
		}
		res := runRecorded(ctx, &c, s, w, limit)
		if w != nil {
			fmt.Fprintf(w, "--- %s: %s (%.2fs)\n", res.Status, c.Name, res.Duration.Seconds())
		}
		rep.Results = append(rep.Results, res)
		if res.Status == Fail {
			failed = append(failed, c.Name)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("conformance: %s: check stopped: %w", h.Name, ctx.Err())
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("conformance: %s: %d of %d cases failed: %s", h.Name, len(failed), len(rep.Results), strings.Join(failed, ", "))
	}
	return rep, nil
}
