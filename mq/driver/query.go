package driver

import (
	"fmt"
	"math"
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
// value, so a secret in a query value does not leak, and nor do the
// getters' (Want); Bad repeats the bad value, so use it only for
// parameters that hold no secret.
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

// Has reports whether parameter k was given.
func (q Query) Has(k string) bool {
	_, ok := q[k]
	return ok
}

// Duration returns parameter k as a non-negative duration.
func (q Query) Duration(prefix, k string) (time.Duration, error) {
	return q.DurationIn(prefix, k, 0, math.MaxInt64)
}

// Int returns parameter k as a non-negative integer.
func (q Query) Int(prefix, k string) (int, error) {
	return q.IntIn(prefix, k, 0, math.MaxInt)
}

// DurationIn returns parameter k as a duration from lo to hi (a Go
// duration such as 30s or 5m), 0 when absent. Its error names k and the
// range, not the value.
func (q Query) DurationIn(prefix, k string, lo, hi time.Duration) (time.Duration, error) {
	return getIn(q, prefix, k, lo, hi, math.MaxInt64, time.ParseDuration, "a", "duration", time.Duration.String)
}

// IntIn returns parameter k as a decimal integer from lo to hi, 0 when
// absent. Its error names k and the range, not the value.
func (q Query) IntIn(prefix, k string, lo, hi int) (int, error) {
	return getIn(q, prefix, k, lo, hi, math.MaxInt, strconv.Atoi, "an", "integer", strconv.Itoa)
}

// getIn is DurationIn and IntIn: parameter k parsed by parse, from lo to
// hi, where hi == top (T's largest value) means no upper bound.
func getIn[T int | time.Duration](q Query, prefix, k string, lo, hi, top T, parse func(string) (T, error), article, noun string, show func(T) string) (T, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	n, err := parse(v)
	if err == nil && n >= lo && n <= hi {
		return n, nil
	}
	want := article + " " + noun + " from " + show(lo) + " to " + show(hi)
	switch {
	case hi < top:
	case lo == 0:
		want = "a non-negative " + noun
	case lo == 1:
		want = "a positive " + noun
	default:
		want = article + " " + noun + " of at least " + show(lo)
	}
	return 0, q.Want(prefix, k, want)
}

// OneOf returns parameter k, which must be one of values, or "" when
// absent. Its error names k and lists values, not the value given.
func (q Query) OneOf(prefix, k string, values ...string) (string, error) {
	v, ok := q[k]
	if !ok || slices.Contains(values, v) {
		return v, nil
	}
	want := strings.Join(values, ", ")
	if n := len(values); n > 1 {
		want = strings.Join(values[:n-1], ", ") + " or " + values[n-1]
	}
	return "", q.Want(prefix, k, want)
}

// Want returns the error for parameter k that is not what the driver
// wants ("parameter "k" must be want"); unlike Bad, it does not repeat
// the value.
func (q Query) Want(prefix, k, want string) error {
	return QueryError(prefix, "parameter "+strconv.Quote(k)+" must be "+want)
}

// Bool returns parameter k as a boolean.
func (q Query) Bool(prefix, k string) (bool, error) {
	v, ok := q[k]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, q.Want(prefix, k, "a boolean (true or false)")
	}
	return b, nil
}
