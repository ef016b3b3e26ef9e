package awsmq

import (
	"net/url"
	"strings"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// Connection query parameters every sqs:// and sns:// URL takes.
const (
	ParamRegion   = "region"
	ParamEndpoint = "endpoint"
	ParamProfile  = "profile"
)

// ConnParams lists the connection query parameters.
var ConnParams = []string{ParamRegion, ParamEndpoint, ParamProfile}

// Params are the connection settings of a URL. Empty fields mean the AWS
// SDK's defaults (its default credential and configuration chain).
type Params struct {
	// Region is the AWS region, for example eu-west-1.
	Region string
	// Endpoint is the base URL of an SQS- or SNS-compatible endpoint, for
	// example http://127.0.0.1:5000 for moto.
	Endpoint string
	// Profile names a profile of the shared configuration files.
	Profile string
}

// URLError returns an error wrapping driver.ErrInvalidURL, prefixed with
// the driver's name (driver.QueryError).
func URLError(drv, msg string) error { return driver.QueryError(drv, msg) }

// Query holds a URL's query parameters, each given once, with the
// driver's name its errors start with; it has driver.Query's getters.
type Query struct {
	driver.Query
	drv string
}

// ParseQuery returns u's query parameters after checking that each is in
// allowed and given once (driver.ParseQuery). drv prefixes error
// messages.
func ParseQuery(drv string, u *url.URL, allowed []string) (Query, error) {
	q, err := driver.ParseQuery(drv, u, allowed...)
	if err != nil {
		return Query{}, err
	}
	return Query{Query: q, drv: drv}, nil
}

// Get returns the value of parameter k and whether it was given.
func (q Query) Get(k string) (string, bool) {
	v, ok := q.Query[k]
	return v, ok
}

// Seconds parses parameter k as a Go duration between lo and hi, rounded
// up to whole seconds; def when absent.
func (q Query) Seconds(k string, lo, hi, def time.Duration) (time.Duration, error) {
	if !q.Has(k) {
		return def, nil
	}
	d, err := q.DurationIn(q.drv, k, lo, hi)
	return CeilSeconds(d), err
}

// CeilSeconds rounds d up to whole seconds.
func CeilSeconds(d time.Duration) time.Duration {
	return ((d + time.Second - 1) / time.Second) * time.Second
}

// Params parses the connection parameters.
func (q Query) Params() (Params, error) {
	var p Params
	if v, ok := q.Query[ParamRegion]; ok {
		if !validRegion(v) {
			return p, q.Bad(q.drv, ParamRegion, "an AWS region such as eu-west-1")
		}
		p.Region = v
	}
	if v, ok := q.Query[ParamProfile]; ok {
		if v == "" {
			return p, q.Want(q.drv, ParamProfile, "a profile name")
		}
		p.Profile = v
	}
	if v, ok := q.Query[ParamEndpoint]; ok {
		ep, err := checkEndpoint(q.drv, v)
		if err != nil {
			return p, err
		}
		p.Endpoint = ep
	}
	return p, nil
}

func validRegion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// checkEndpoint accepts an http or https URL with a host and nothing but a
// path. Its error never repeats user info.
func checkEndpoint(drv, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil {
		return "", URLError(drv, "parameter \"endpoint\" is not a URL")
	}
	switch {
	case u.User != nil:
		return "", URLError(drv, "parameter \"endpoint\" must not hold user info; credentials come from the AWS SDK's default chain")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", URLError(drv, "parameter \"endpoint\" must be an http or https URL, such as http://127.0.0.1:5000")
	case u.Host == "":
		return "", URLError(drv, "parameter \"endpoint\" has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return "", URLError(drv, "parameter \"endpoint\" must not have a query or fragment")
	}
	return u.String(), nil
}

// CheckURL rejects URL parts the drivers never use, so that a credential
// put in the URL by mistake is refused rather than ignored. The error does
// not repeat the user info.
func CheckURL(drv string, u *url.URL) error {
	switch {
	case u == nil:
		return URLError(drv, "nil URL")
	case u.Opaque != "":
		return URLError(drv, "want "+drv+"://NAME, not an opaque URL")
	case u.User != nil:
		return URLError(drv, drv+" URLs take no user info: credentials come from the AWS SDK's default chain (environment, shared config files, IAM role)")
	case u.Fragment != "":
		return URLError(drv, drv+" URLs take no fragment")
	}
	return nil
}

// ValidName reports whether s is a valid SQS queue or SNS topic name: 1
// to maxLen characters of A-Z a-z 0-9 _ -, where a FIFO name ends in
// .fifo (counted in maxLen).
func ValidName(s string, maxLen int) bool {
	base := strings.TrimSuffix(s, ".fifo")
	if base == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
