package driver

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Query holds the query parameters of an Opener's URL, each given once and
// each one the driver knows. Its getters return the zero value for an
// absent parameter and an error wrapping ErrInvalidURL for a bad one.
type Query map[string]string

// ParseQuery returns u's query parameters. It refuses, with an error
// wrapping ErrInvalidURL and starting with prefix (the driver's name), a
// malformed query, a parameter not in allowed (the error lists the allowed
// ones) and a parameter given more than once. Its errors never repeat a
// value, so a secret in a query value does not leak; Bad and the getters
// repeat the bad value, so use them only for parameters that hold no
// secret.
func ParseQuery(prefix string, u *url.URL, allowed ...string) (Query, error) {
	vals, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, QueryError(prefix, "malformed query")
	}
	q := make(Query, len(vals))
	for k, v := range vals {
		if !slices.Contains(allowed, k) {
			hint := "none"
			if len(allowed) > 0 {
				sorted := slices.Sorted(slices.Values(allowed))
				hint = strings.Join(sorted, ", ")
			}
			return nil, QueryError(prefix, "unknown parameter "+strconv.Quote(k)+" (allowed: "+hint+")")
		}
		if len(v) != 1 {
			return nil, QueryError(prefix, "parameter "+strconv.Quote(k)+" given more than once")
		}
		q[k] = v[0]
	}
	return q, nil
}

// QueryError returns an error wrapping ErrInvalidURL: "prefix: invalid URL:
// msg".
func QueryError(prefix, msg string) error {
	return fmt.Errorf("%s: %w: %s", prefix, ErrInvalidURL, msg)
}

// Bad returns the error for parameter k whose value v is not what the
// driver wants (for example "a duration such as 30s").
func (q Query) Bad(prefix, k, want string) error {
	return QueryError(prefix, "parameter "+strconv.Quote(k)+": "+strconv.Quote(q[k])+" is not "+want)
}

// Duration returns parameter k as a non-negative duration.
func (q Query) Duration(prefix, k string) (time.Duration, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, q.Bad(prefix, k, "a non-negative duration such as 30s or 5m")
	}
	return d, nil
}

// Int returns parameter k as a non-negative integer.
func (q Query) Int(prefix, k string) (int, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, q.Bad(prefix, k, "a non-negative integer")
	}
	return n, nil
}

// Bool returns parameter k as a boolean.
func (q Query) Bool(prefix, k string) (bool, error) {
	v, ok := q[k]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, q.Bad(prefix, k, "a boolean (true or false)")
	}
	return b, nil
}
