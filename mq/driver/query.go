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
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		want := "a duration from " + lo.String() + " to " + hi.String()
		switch {
		case hi < math.MaxInt64:
		case lo == 0:
			want = "a non-negative duration"
		case lo == 1:
			want = "a positive duration"
		default:
			want = "a duration of at least " + lo.String()
		}
		return 0, q.Want(prefix, k, want+" such as 30s or 5m")
	}
	return d, nil
}

// IntIn returns parameter k as a decimal integer from lo to hi, 0 when
// absent. Its error names k and the range, not the value.
func (q Query) IntIn(prefix, k string, lo, hi int) (int, error) {
	v, ok := q[k]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		want := "an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)
		switch {
		case hi < math.MaxInt:
		case lo == 0:
			want = "a non-negative integer"
		case lo == 1:
			want = "a positive integer"
		default:
			want = "an integer of at least " + strconv.Itoa(lo)
		}
		return 0, q.Want(prefix, k, want)
	}
	return n, nil
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
