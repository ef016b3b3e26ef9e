package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"strings"
	"time"

	"github.com/portmq/portmq/conformance"
	"github.com/portmq/portmq/mq"
)

// scratch is a topic and subscription that bench and verify make for
// themselves and remove again, through the conformance command's
// provisioning table (confBackends: mq.Admin and the URL layout of each
// scheme it knows) or, for other schemes, URL templates.
type scratch struct {
	prodURL, subURL, dlqURL string
	cleanup                 func(context.Context) error // nil: nothing to delete
}

// scratchFlags are the template flags of bench and verify, named as the
// conformance command's.
type scratchFlags struct{ tmpl templates }

func (f *scratchFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.tmpl.topic, "topic-url", "", "topic URL `template` with {name}, for a scheme the CLI cannot provision")
	fs.StringVar(&f.tmpl.sub, "subscription-url", "", "subscription URL `template` with {name} and {sub} (with -topic-url)")
	fs.StringVar(&f.tmpl.dlq, "dlq-url", "", "dead-letter subscription URL `template` (with -topic-url and -max-attempts)")
}

func (f *scratchFlags) check() error {
	t := f.tmpl
	switch {
	case (t.sub != "" || t.dlq != "") && t.topic == "", t.topic != "" && t.sub == "":
		return errors.New("-topic-url and -subscription-url go together (-dlq-url with them)")
	case t.topic != "" && !strings.Contains(t.topic, "{name}"):
		return errors.New("-topic-url must contain {name}")
	case t.sub != "" && !strings.Contains(t.sub, "{sub}"):
		return errors.New("-subscription-url must contain {sub}")
	}
	return nil
}

// provision makes a fresh topic with one subscription (and a dead-letter
// destination when maxAttempts > 0) on the backend base names.
func provision(ctx context.Context, base string, f scratchFlags, prefix string, lease time.Duration, maxAttempts int) (*scratch, error) {
	o := &confOptions{prefix: prefix, tmpl: f.tmpl}
	h, _, _, err := o.harnessOf(base)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	res, err := h.Provision(ctx, conformance.Spec{Name: hex.EncodeToString(b[:]), Subscriptions: 1, Lease: lease,
		MaxAttempts: maxAttempts, DeadLetter: maxAttempts > 0})
	if err != nil {
		return nil, err
	}
	return &scratch{prodURL: res.TopicURL, subURL: res.SubscriptionURLs[0], dlqURL: res.DeadLetterURL, cleanup: res.Cleanup}, nil
}

// release deletes what provision created.
func (s *scratch) release(ctx context.Context) error {
	if s.cleanup == nil {
		return nil
	}
	ctx, cancel := shutdownContext(ctx)
	defer cancel()
	err := s.cleanup(ctx)
	s.cleanup = nil
	return err
}

// shown returns u for output: redacted (mq.Redact) when it has userinfo
// or a query, else as given (mq.Redact would print mem:// as mem:).
func shown(u string) string {
	if strings.ContainsAny(u, "@?") {
		return mq.Redact(u)
	}
	return u
}
