package watermill

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// portmq's own query parameters.
var (
	topicParams = []string{"max_body"}
	subParams   = []string{"dead_letter", "max_body", "subscription", "visibility"}
)

type parsedURL struct {
	req        Request
	lease      time.Duration
	deadLetter string
	maxBody    int
}

func parseURL(u *url.URL, b Backend, sub bool) (*parsedURL, error) {
	own := topicParams
	if sub {
		own = subParams
	}
	for _, p := range b.Params {
		if slices.Contains(own, p) {
			return nil, driver.QueryError("watermill", "the backend's parameter "+strconv.Quote(p)+" is also portmq's")
		}
	}
	q, err := driver.ParseQuery("watermill", u, append(slices.Clone(own), b.Params...)...)
	if err != nil {
		return nil, err
	}
	topic := u.Host + u.Path
	if u.Opaque != "" || topic == "" {
		return nil, driver.QueryError("watermill", "the URL names no topic: want "+u.Scheme+"://TOPIC")
	}
	p := &parsedURL{req: Request{Topic: topic, User: u.User, Query: url.Values{}}}
	for _, k := range b.Params {
		if v, ok := q[k]; ok {
			p.req.Query.Set(k, v)
		}
	}
	if p.maxBody, err = q.Int("watermill", "max_body"); err != nil {
		return nil, err
	}
	if p.maxBody == 0 {
		p.maxBody = b.MaxBodySize
	}
	if !sub {
		return p, nil
	}
	p.req.Subscription = q["subscription"]
	if p.req.Subscription == "" {
		return nil, driver.QueryError("watermill", "parameter \"subscription\" (the consumer group) is required")
	}
	if p.lease, err = q.Duration("watermill", "visibility"); err != nil {
		return nil, err
	}
	if p.lease == 0 {
		p.lease = defaultLease
	}
	p.deadLetter = q["dead_letter"]
	return p, nil
}

// defaultLease is the lease mq keeps when the URL gives none.
const defaultLease = 30 * time.Second
