package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

func TestRecordRoundTripKeepsMessage(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	m := driver.Message{Body: []byte{0, 1, 2}, Key: "k", DedupID: "d-1", Attributes: map[string]string{"a": "1", "ключ": "значение"}}
	var r kgo.Record
	toRecord(&r, &m, "orders", now)
	r.Partition, r.Offset, r.Timestamp = 2, 41, now
	got := received(&r)
	if string(got.Body) != string(m.Body) || got.Key != "k" || got.DedupID != "d-1" || got.ID != "2-41" || !got.PublishedAt.Equal(now) {
		t.Errorf("received %+v from %+v", got, m)
	}
	if len(got.Attributes) != 2 || got.Attributes["ключ"] != "значение" || got.Attributes["a"] != "1" {
		t.Errorf("attributes %v, want %v (no internal header)", got.Attributes, m.Attributes)
	}

	// An empty message stays empty: no key, no headers.
	var e kgo.Record
	toRecord(&e, &driver.Message{}, "orders", now)
	if e.Key != nil || e.Headers != nil || len(e.Value) != 0 {
		t.Errorf("empty message became %+v", e)
	}
	if got := received(&e); got.Body == nil || len(got.Body) != 0 || got.Attributes != nil {
		t.Errorf("empty record received as %+v", got)
	}
}

func TestDelayIsADueHeaderRoundedUp(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 100_000_001, time.UTC)
	var r kgo.Record
	toRecord(&r, &driver.Message{Body: []byte("x"), Delay: time.Second}, "orders", now)
	md := readMeta(&r)
	due := time.Unix(0, md.due)
	if due.Before(now.Add(time.Second)) || due.Sub(now.Add(time.Second)) >= time.Millisecond {
		t.Errorf("due %v for a 1s delay sent at %v: want the next millisecond at or after %v", due, now, now.Add(time.Second))
	}
	if got := received(&r); len(got.Attributes) != 0 {
		t.Errorf("the due header leaked into the attributes: %v", got.Attributes)
	}
}

func TestRetryCopyCarriesIDAttemptsAndDueTime(t *testing.T) {
	pub := time.UnixMilli(1_700_000_000_123)
	orig := &kgo.Record{Topic: "orders", Partition: 1, Offset: 7, Timestamp: pub, Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: hdrDedupID, Value: []byte("d")}}}
	due := time.UnixMilli(1_700_000_100_000)
	c1 := copyRecord(ptr(retryCopy(orig, 1, due)), "orders.retry.s")
	c1.Partition, c1.Offset, c1.Timestamp = 0, 3, time.Now()
	md := readMeta(c1)
	if md.delivered != 1 || md.due != due.UnixNano() {
		t.Errorf("copy meta %+v, want delivered 1, due %v", md, due)
	}
	got := received(c1)
	if got.ID != "1-7" || !got.PublishedAt.Equal(pub) || got.DedupID != "d" || got.Key != "k" || string(got.Body) != "v" ||
		len(got.Attributes) != 1 || got.Attributes["a"] != "1" {
		t.Errorf("copy received as %+v, want the original's ID, publish time, DedupID, key, body and attributes", got)
	}
	// A copy of a copy keeps the original ID and publish time and does
	// not repeat headers.
	c2 := copyRecord(ptr(retryCopy(c1, 2, time.Time{})), "orders.retry.s")
	c2.Partition, c2.Offset = 2, 9
	if got := received(c2); got.ID != "1-7" || !got.PublishedAt.Equal(pub) {
		t.Errorf("second copy received as %+v", got)
	}
	if md := readMeta(c2); md.delivered != 2 || md.due != 0 {
		t.Errorf("second copy meta %+v, want delivered 2 and no due time", md)
	}
	seen := map[string]int{}
	for _, h := range c2.Headers {
		seen[h.Key]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("header %s appears %d times in a copy of a copy", k, n)
		}
	}
}

func TestDeadLetterCopyCarriesMetadata(t *testing.T) {
	orig := &kgo.Record{Topic: "orders.retry.s", Partition: 0, Offset: 3, Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: redeliver.AttrID, Value: []byte("2-40")}, {Key: redeliver.AttrDelivered, Value: []byte("2")}}}
	reason := strings.Repeat("é", redeliver.MaxReasonLen) // two bytes each
	dl := copyRecord(ptr(deadLetterCopy(orig, "orders/s", "orders", 3, reason)), "orders.dlq.s")
	dl.Partition, dl.Offset = 0, 0
	got := received(dl)
	want := map[string]string{
		"a": "1", driver.AttrAttempts: "3", driver.AttrSource: "orders/s",
		HeaderSourceTopic: "orders", HeaderSourcePartition: "2", HeaderSourceOffset: "40",
	}
	for k, v := range want {
		if got.Attributes[k] != v {
			t.Errorf("dead letter attribute %s = %q, want %q (all: %v)", k, got.Attributes[k], v, got.Attributes)
		}
	}
	r := got.Attributes[driver.AttrDeadLetterReason]
	if len(r) > redeliver.MaxReasonLen || !utf8.ValidString(r) || !strings.HasPrefix(reason, r) {
		t.Errorf("reason of %d bytes, valid UTF-8 %v: want a prefix of at most %d bytes", len(r), utf8.ValidString(r), redeliver.MaxReasonLen)
	}
	if got.ID == "2-40" {
		t.Errorf("a dead letter is a new message; it kept the original ID")
	}
}

func ptr[T any](v T) *T { return &v }

func TestIDListCutsEachID(t *testing.T) {
	var l idList
	for round := range 2 { // the second round reuses the scratch
		l.reset()
		var want []string
		for i, off := range []int64{0, 9, 10, 123456789, 1 << 62} {
			p := int32(i * 5 * (round + 1))
			l.add(p, off)
			want = append(want, fmt.Sprintf("%d-%d", p, off))
		}
		for k, w := range want {
			if got := l.id(k); got != w {
				t.Errorf("round %d: id(%d) = %q, want %q", round, k, got, w)
			}
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestErrorCodesClassifyNativeErrors(t *testing.T) {
	cases := []struct {
		err  error
		want driver.ErrorCode
	}{
		{nil, driver.OK},
		{kerr.UnknownTopicOrPartition, driver.NotFound},
		{fmt.Errorf("x: %w", kerr.GroupIDNotFound), driver.NotFound},
		{kerr.TopicAlreadyExists, driver.AlreadyExists},
		{kerr.TopicAuthorizationFailed, driver.PermissionDenied},
		{kerr.SaslAuthenticationFailed, driver.Unauthenticated},
		{kerr.MessageTooLarge, driver.InvalidArgument},
		{kerr.NonEmptyGroup, driver.FailedPrecondition},
		{kerr.NotLeaderForPartition, driver.Unavailable},
		{kerr.RequestTimedOut, driver.Unavailable},
		{kerr.ThrottlingQuotaExceeded, driver.ResourceExhausted},
		{context.Canceled, driver.Canceled},
		{context.DeadlineExceeded, driver.DeadlineExceeded},
		{kgo.ErrClientClosed, driver.Closed},
		{kgo.ErrRecordTimeout, driver.Unavailable},
		{io.EOF, driver.Unavailable},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, driver.Unavailable},
		{driver.ErrLeaseExpired(), driver.FailedPrecondition},
		{errClosed, driver.Closed},
		{fmt.Errorf("kafka: %w: x", driver.ErrInvalidURL), driver.InvalidArgument},
		{errors.New("something else"), driver.Unknown},
	}
	for _, c := range cases {
		if got := errorCode(c.err); got != c.want {
			t.Errorf("errorCode(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	w := wrap("send to orders", kerr.MessageTooLarge)
	var ke *kerr.Error
	if !driver.ErrorAs(w, &ke) || ke != kerr.MessageTooLarge {
		t.Errorf("driver.ErrorAs did not find the kerr.Error in %v", w)
	}
	if errorCode(w) != driver.InvalidArgument || !strings.Contains(w.Error(), "send to orders") {
		t.Errorf("wrapped error %q has code %v", w, errorCode(w))
	}
	for _, target := range []any{nil, 42, ke, new(int)} {
		if driver.ErrorAs(w, target) {
			t.Errorf("driver.ErrorAs(%T) reported true", target)
		}
	}
}
