package redeliver

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// The attributes a copy carries; see the package doc.
const (
	AttrID        = "portmq-id"
	AttrDelivered = "portmq-delivered"
	AttrDue       = "portmq-due"
	AttrPublished = "portmq-published"
	AttrFor       = "portmq-retry-for"
)

// Attrs lists the attributes a copy carries.
var Attrs = [...]string{AttrID, AttrDelivered, AttrDue, AttrPublished, AttrFor}

// MaxDelivered caps the delivery counts read from attributes, so that a
// damaged one cannot overflow an attempt count.
const MaxDelivered = 1 << 30

// MaxReasonLen caps the dead-letter reason, in bytes.
const MaxReasonLen = 1024

// Carried is what a copy carries about its original.
type Carried struct {
	// ID is the original's message ID; "" for none.
	ID string
	// Delivered is how many times the message was delivered before the
	// copy was written, 0 to MaxDelivered.
	Delivered int
	// Due is when the copy may be delivered; zero for at once.
	Due time.Time
	// Published is the original's publish time; zero for not carried.
	Published time.Time
	// For is the subscription the copy is for; "" for any.
	For string
}

// Carries reports whether k is an attribute a copy carries.
func Carries(k string) bool {
	switch k {
	case AttrID, AttrDelivered, AttrDue, AttrPublished, AttrFor:
		return true
	}
	return false
}

// Read sets the field attribute k carries from v and reports whether k is
// one of the carried attributes. A value that does not parse leaves the
// field as it was.
func (c *Carried) Read(k, v string) bool {
	switch k {
	case AttrID:
		c.ID = v
	case AttrDelivered:
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			c.Delivered = min(n, MaxDelivered)
		}
	case AttrDue:
		if t, ok := parseMillis(v); ok {
			c.Due = t
		}
	case AttrPublished:
		if t, ok := parseMillis(v); ok {
			c.Published = t
		}
	case AttrFor:
		c.For = v
	default:
		return false
	}
	return true
}

// Attempt returns the attempt number of the copy's next delivery.
func (c *Carried) Attempt() int { return c.Delivered + 1 }

// Parse splits a received message's attributes into the user's and what
// a copy carries (see Split).
func Parse(attrs map[string]string) (map[string]string, Carried) {
	var c Carried
	user := Split(attrs, Attrs[:], func(k, v string) { c.Read(k, v) })
	return user, c
}

// Split calls read for each of keys that attrs has, and returns attrs
// without them: attrs itself when it has none (no copy), nil when nothing
// else is left. A driver that carries fields of its own in attributes
// passes its keys along with Attrs and reads both.
func Split(attrs map[string]string, keys []string, read func(k, v string)) map[string]string {
	found := 0
	for _, k := range keys {
		if v, ok := attrs[k]; ok {
			found++
			read(k, v)
		}
	}
	switch found {
	case 0:
		return attrs
	case len(attrs):
		return nil
	}
	out := maps.Clone(attrs)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// AppendDue appends t as the value of AttrDue: Unix milliseconds rounded
// up, so that a due time is never early.
func AppendDue(b []byte, t time.Time) []byte {
	ms := (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return strconv.AppendInt(b, ms, 10)
}

func parseMillis(v string) (time.Time, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// Copy returns the copy of m, a received message, to send to a retry
// destination: m's body, key, dedup ID and attributes with c's. c.ID and
// c.Published default to m's ID and publish time.
func Copy(m *driver.Message, c Carried) driver.Message {
	attrs := make(map[string]string, len(m.Attributes)+len(Attrs))
	maps.Copy(attrs, m.Attributes)
	if c.ID == "" {
		c.ID = m.ID
	}
	if c.Published.IsZero() {
		c.Published = m.PublishedAt
	}
	if c.ID != "" {
		attrs[AttrID] = c.ID
	}
	attrs[AttrDelivered] = strconv.Itoa(min(max(c.Delivered, 0), MaxDelivered))
	if !c.Due.IsZero() {
		attrs[AttrDue] = string(AppendDue(nil, c.Due))
	} else {
		delete(attrs, AttrDue)
	}
	if !c.Published.IsZero() {
		attrs[AttrPublished] = strconv.FormatInt(c.Published.UnixMilli(), 10)
	}
	if c.For != "" {
		attrs[AttrFor] = c.For
	}
	return driver.Message{Body: m.Body, Attributes: attrs, AttributesOwned: true, Key: m.Key, DedupID: m.DedupID}
}

// DeadLetter returns the dead-letter copy of m, a received message, of
// subscription source, dead-lettered after attempts deliveries for reason:
// m's body, key, dedup ID and attributes (without carried ones) with the
// dead-letter metadata of package driver, and room for extra more
// attributes. Earlier dead-letter metadata is replaced.
func DeadLetter(m *driver.Message, reason string, attempts int, source string, extra int) driver.Message {
	attrs := make(map[string]string, len(m.Attributes)+3+extra)
	for k, v := range m.Attributes {
		if !Carries(k) {
			attrs[k] = v
		}
	}
	attrs[driver.AttrDeadLetterReason] = truncateUTF8(reason, MaxReasonLen)
	attrs[driver.AttrAttempts] = strconv.Itoa(attempts)
	attrs[driver.AttrSource] = source
	return driver.Message{Body: m.Body, Attributes: attrs, AttributesOwned: true, Key: m.Key, DedupID: m.DedupID}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Exhausted reports whether a delivery at attempt used up maxAttempts (0:
// no limit): it is dead-lettered rather than retried.
func Exhausted(attempt, maxAttempts int) bool {
	return maxAttempts > 0 && attempt >= maxAttempts
}

// MaxAttemptsReason is the dead-letter reason of a message that used up
// maxAttempts.
func MaxAttemptsReason(maxAttempts int) string {
	return "max attempts (" + strconv.Itoa(maxAttempts) + ") reached"
}

// Due returns when a copy nacked at now with delay is due: zero (at once)
// for no delay.
func Due(now time.Time, delay time.Duration) time.Time {
	if delay <= 0 {
		return time.Time{}
	}
	return now.Add(delay)
}

// Send sends copies and returns only once the backend confirmed them: nil
// when all were, else an error whose driver.ItemError(err, k) is copy k's.
type Send func(ctx context.Context, copies []driver.Message) error

// Each returns a Send for clients that send one message a call: it sends
// the copies concurrently, copy k with one(ctx, k, &copies[k]), and
// returns once every call returned.
func Each(one func(ctx context.Context, k int, m *driver.Message) error) Send {
	return func(ctx context.Context, copies []driver.Message) error {
		errs := make([]error, len(copies))
		var wg sync.WaitGroup
		for k := range copies {
			wg.Go(func() { errs[k] = one(ctx, k, &copies[k]) })
		}
		wg.Wait()
		return driver.BatchResult(errs)
	}
}

// Move sends copies (copy k is for item at[k] of an n-item batch), then
// settles each original with settle(k, err): err is nil when copy k was
// confirmed (settle acknowledges the original) and the copy's error when
// not (settle gives the original back, so that it is not lost). settle
// returns item at[k]'s error, recorded in errs with driver.SetItemError;
// Move returns errs, for driver.BatchResult.
func Move(ctx context.Context, send Send, copies []driver.Message, at []int, settle func(k int, err error) error, errs []error, n int) []error {
	if len(copies) == 0 {
		return errs
	}
	err := send(ctx, copies)
	for k := range copies {
		errs = driver.SetItemError(errs, n, at[k], settle(k, driver.ItemError(err, k)))
	}
	return errs
}
