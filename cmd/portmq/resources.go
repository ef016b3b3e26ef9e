package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/portmq/portmq/mq"
)

// Placeholders in -producer-url and -subscription-url templates.
const (
	topicHole = "{topic}"
	subHole   = "{subscription}"
)

// templates give, for schemes whose URL layout the CLI knows, the
// producer and subscription URL of a topic and subscription on the
// backend an admin URL names.
var templates = map[string]func(base *url.URL) (prod, sub string){
	"mem": func(*url.URL) (string, string) { return "mem://" + topicHole, "mem://" + topicHole + "/" + subHole },
	"amqp": func(u *url.URL) (string, string) {
		p := *u
		p.RawQuery, p.Fragment = "", ""
		b := p.String() + "?"
		if u.RawQuery != "" {
			b += u.RawQuery + "&"
		}
		return b + "topic=" + topicHole, b + "topic=" + topicHole + "&subscription=" + subHole
	},
}

func init() { templates["amqps"] = templates["amqp"] }

// scratch is a topic and subscription a command made for itself and
// removes again.
type scratch struct {
	topic, sub      string
	prodURL, subURL string
	admin           *mq.Admin // nil: not provisioned by us
	createdTopic    bool
	createdSub      bool
	note            string // why nothing was provisioned, for the report
}

// newName returns prefix-<random>.
func newName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// provision makes a fresh topic and subscription: the URLs come from
// prodTmpl and subTmpl (with {topic} and {subscription} replaced), or,
// when those are empty, from the template of base's scheme. If base opens
// an mq.Admin, the topic and subscription are created through it with cfg
// (and removed by release); else the driver creates them on open where
// it does.
func provision(ctx context.Context, base, prodTmpl, subTmpl, prefix string, cfg mq.SubscriptionConfig) (*scratch, error) {
	if (prodTmpl == "") != (subTmpl == "") {
		return nil, errors.New("give both -producer-url and -subscription-url, or neither")
	}
	if prodTmpl == "" {
		u, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("%s: not a URL", mq.Redact(base))
		}
		t, ok := templates[u.Scheme]
		if !ok {
			return nil, fmt.Errorf("the CLI does not know the URL layout of scheme %q: give -producer-url and -subscription-url with %s and %s in them", u.Scheme, topicHole, subHole)
		}
		prodTmpl, subTmpl = t(u)
	}
	s := &scratch{topic: newName(prefix)}
	s.sub = s.topic + "-sub" // names may be global to a backend (RabbitMQ's queues)
	fill := func(tmpl string) string {
		return strings.NewReplacer(topicHole, url.QueryEscape(s.topic), subHole, url.QueryEscape(s.sub)).Replace(tmpl)
	}
	s.prodURL, s.subURL = fill(prodTmpl), fill(subTmpl)
	if base == "" {
		s.note = "no admin URL: the driver creates what it needs on open, and it is left in place"
		return s, nil
	}
	a, err := mq.OpenAdmin(ctx, base)
	if errors.Is(err, mq.ErrUnsupported) {
		s.note = "scheme has no admin: the driver creates what it needs on open, and it is left in place"
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	s.admin = a
	if err := a.CreateTopic(ctx, s.topic, mq.TopicConfig{}); err != nil && !errors.Is(err, mq.ErrUnsupported) {
		s.release(ctx)
		return nil, err
	} else if err == nil {
		s.createdTopic = true
	}
	if err := a.CreateSubscription(ctx, s.topic, s.sub, cfg); err != nil {
		s.release(ctx)
		return nil, err
	}
	s.createdSub = true
	return s, nil
}

// release deletes what provision created.
func (s *scratch) release(ctx context.Context) error {
	if s.admin == nil {
		return nil
	}
	ctx, cancel := shutdownContext(ctx)
	defer cancel()
	var errs []error
	if s.createdSub {
		errs = append(errs, s.admin.DeleteSubscription(ctx, s.topic, s.sub))
	}
	if s.createdTopic {
		errs = append(errs, s.admin.DeleteTopic(ctx, s.topic))
	}
	errs = append(errs, s.admin.Close())
	s.admin = nil
	return errors.Join(errs...)
}

// shown returns u for output: redacted (mq.Redact) when it has userinfo
// or a query, else as given (mq.Redact would print mem:// as mem:).
func shown(u string) string {
	if strings.ContainsAny(u, "@?") {
		return mq.Redact(u)
	}
	return u
}
