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
	dlq, dlqURL     string      // dead-letter topic and its subscription of the same name, if any
	admin           *mq.Admin   // nil: not provisioned by us
	created         [][2]string // topics and subscriptions ("" for a topic) to delete
	note            string      // why nothing was provisioned, for the report
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
// it does. With withDLQ, cfg's dead-letter topic is a fresh topic, with a
// subscription of the same name whose URL is dlqURL.
func provision(ctx context.Context, base, prodTmpl, subTmpl, prefix string, cfg mq.SubscriptionConfig, withDLQ bool) (*scratch, error) {
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
	fill := func(tmpl, topic, sub string) string {
		return strings.NewReplacer(topicHole, url.QueryEscape(topic), subHole, url.QueryEscape(sub)).Replace(tmpl)
	}
	s.prodURL, s.subURL = fill(prodTmpl, s.topic, s.sub), fill(subTmpl, s.topic, s.sub)
	if withDLQ {
		s.dlq = s.sub + ".dlq" // RabbitMQ keeps dead letters of QUEUE in QUEUE.dlq
		s.dlqURL = fill(subTmpl, s.dlq, s.dlq)
		cfg.DeadLetterTopic = s.dlq
	}
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
	if s.dlq != "" {
		if err := s.create(ctx, s.dlq, s.dlq, mq.SubscriptionConfig{}); err != nil {
			s.release(ctx)
			return nil, err
		}
	}
	if err := s.create(ctx, s.topic, s.sub, cfg); err != nil {
		s.release(ctx)
		return nil, err
	}
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
	for i := len(s.created) - 1; i >= 0; i-- {
		if c := s.created[i]; c[1] != "" {
			errs = append(errs, s.admin.DeleteSubscription(ctx, c[0], c[1]))
		} else {
			errs = append(errs, s.admin.DeleteTopic(ctx, c[0]))
		}
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

// create makes topic (unless the backend has no topics to create) and its
// subscription sub through the Admin, and remembers them for release.
func (s *scratch) create(ctx context.Context, topic, sub string, cfg mq.SubscriptionConfig) error {
	err := s.admin.CreateTopic(ctx, topic, mq.TopicConfig{})
	switch {
	case err == nil:
		s.created = append(s.created, [2]string{topic, ""})
	case !errors.Is(err, mq.ErrUnsupported):
		return err
	}
	if err := s.admin.CreateSubscription(ctx, topic, sub, cfg); err != nil {
		return err
	}
	s.created = append(s.created, [2]string{topic, sub})
	return nil
}
