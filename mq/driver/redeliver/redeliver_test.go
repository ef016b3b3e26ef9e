package redeliver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portmq/portmq/mq/driver"
)

func TestCopyRoundTripCarriesIDAttemptsDueAndOrigin(t *testing.T) {
	pub := time.UnixMilli(1_700_000_000_123)
	due := time.Unix(0, 1_700_000_100_000_000_001) // rounds up to the next ms
	m := &driver.Message{ID: "1-7", Body: []byte("v"), Key: "k", DedupID: "d", PublishedAt: pub,
		Attributes: map[string]string{"a": "1", AttrDue: "5"}}
	c := Copy(m, Carried{Delivered: 2, Due: due, For: "orders/s"})
	if string(c.Body) != "v" || c.Key != "k" || c.DedupID != "d" || !c.AttributesOwned {
		t.Errorf("copy %+v lost the body, key or dedup ID", c)
	}
	user, got := Parse(c.Attributes)
	if len(user) != 1 || user["a"] != "1" {
		t.Errorf("user attributes %v, want only a=1", user)
	}
	if got.ID != "1-7" || got.Delivered != 2 || got.Attempt() != 3 || !got.Published.Equal(pub) || got.For != "orders/s" {
		t.Errorf("carried %+v", got)
	}
	if got.Due.Before(due) || got.Due.Sub(due) >= time.Millisecond {
		t.Errorf("due %v for %v: want the next millisecond at or after it", got.Due, due)
	}
	// A copy of a copy keeps the original's ID and publish time; without a
	// due time it carries none.
	m2 := &driver.Message{ID: got.ID, Body: c.Body, Attributes: user, PublishedAt: got.Published}
	c2 := Copy(m2, Carried{Delivered: 3})
	if _, g2 := Parse(c2.Attributes); g2.ID != "1-7" || !g2.Published.Equal(pub) || !g2.Due.IsZero() || g2.Delivered != 3 {
		t.Errorf("copy of a copy carries %+v", g2)
	}
	if m.Attributes[AttrDelivered] != "" {
		t.Error("Copy wrote into the original's attributes")
	}
}

func TestParseAllocatesOnlyWhenItRemoves(t *testing.T) {
	plain := map[string]string{"a": "1"}
	if user, c := Parse(plain); len(user) != 1 || c != (Carried{}) {
		t.Errorf("Parse of plain attributes = %v, %+v", user, c)
	}
	if user, _ := Parse(map[string]string{AttrID: "x"}); user != nil {
		t.Errorf("Parse of carried attributes only = %v, want nil", user)
	}
	if n := testing.AllocsPerRun(100, func() { Parse(plain) }); n > 0 {
		t.Errorf("Parse of plain attributes allocates %v times", n)
	}
}

func TestHostileValuesAreIgnored(t *testing.T) {
	for _, v := range []string{"-3", "x", "", "99999999999999999999", "0x10"} {
		_, c := Parse(map[string]string{AttrDelivered: v, AttrDue: v, AttrPublished: v})
		if c.Delivered != 0 || !c.Due.IsZero() || !c.Published.IsZero() {
			t.Errorf("%q read as %+v, want nothing", v, c)
		}
	}
	if _, c := Parse(map[string]string{AttrDelivered: "9223372036854775807"}); c.Delivered != MaxDelivered {
		t.Errorf("a huge count read as %d, want the cap %d", c.Delivered, MaxDelivered)
	}
}

func TestDeadLetterCarriesMetadataNotTheRetryState(t *testing.T) {
	reason := strings.Repeat("é", MaxReasonLen) // two bytes each
	m := &driver.Message{ID: "2-40", Body: []byte("v"), Key: "k",
		Attributes: map[string]string{"a": "1", AttrID: "2-40", AttrDelivered: "2", driver.AttrAttempts: "1"}}
	dl := DeadLetter(m, reason, 3, "orders/s", 1)
	want := map[string]string{"a": "1", driver.AttrAttempts: "3", driver.AttrSource: "orders/s"}
	for k, v := range want {
		if dl.Attributes[k] != v {
			t.Errorf("dead letter attribute %s = %q, want %q (all: %v)", k, dl.Attributes[k], v, dl.Attributes)
		}
	}
	for _, k := range Attrs {
		if _, ok := dl.Attributes[k]; ok {
			t.Errorf("dead letter carries %s", k)
		}
	}
	r := dl.Attributes[driver.AttrDeadLetterReason]
	if len(r) > MaxReasonLen || !utf8.ValidString(r) || !strings.HasPrefix(reason, r) {
		t.Errorf("reason of %d bytes, valid UTF-8 %v: want a prefix of at most %d bytes", len(r), utf8.ValidString(r), MaxReasonLen)
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"éé", 3, "é"}, {"", 3, ""}} {
		if got := truncateUTF8(c.s, c.n); got != c.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestAttemptDecisions(t *testing.T) {
	if Exhausted(5, 0) || Exhausted(2, 3) || !Exhausted(3, 3) || !Exhausted(4, 3) {
		t.Error("Exhausted decides wrong")
	}
	if MaxAttemptsReason(3) != "max attempts (3) reached" {
		t.Errorf("reason %q", MaxAttemptsReason(3))
	}
	now := time.Unix(100, 0)
	if !Due(now, 0).IsZero() || !Due(now, time.Second).Equal(now.Add(time.Second)) {
		t.Error("Due decides wrong")
	}
}

func TestMoveAcksConfirmedCopiesAndGivesBackTheRest(t *testing.T) {
	boom := errors.New("boom")
	copies := []driver.Message{{Body: []byte("0")}, {Body: []byte("1")}, {Body: []byte("2")}}
	send := func(_ context.Context, ms []driver.Message) error {
		errs := make([]error, len(ms))
		errs[1] = boom
		return driver.BatchResult(errs)
	}
	settled := map[int]error{}
	settle := func(k int, err error) error {
		settled[k] = err
		return err
	}
	// The batch had 5 items; items 1 and 3 were settled before (lease
	// expired); the copies are for items 0, 2 and 4.
	errs := driver.SetItemError(nil, 5, 1, driver.ErrLeaseExpired())
	errs = driver.SetItemError(errs, 5, 3, driver.ErrLeaseExpired())
	errs = Move(context.Background(), send, copies, []int{0, 2, 4}, settle, errs, 5)
	if settled[0] != nil || settled[1] != boom || settled[2] != nil {
		t.Errorf("settled %v: want copies 0 and 2 acked, 1 given back with its error", settled)
	}
	err := driver.BatchResult(errs)
	for i, want := range []bool{false, true, true, true, false} {
		if got := driver.ItemError(err, i) != nil; got != want {
			t.Errorf("item %d failed %v, want %v (%v)", i, got, want, err)
		}
	}
	if !errors.Is(driver.ItemError(err, 2), boom) {
		t.Errorf("item 2's error %v, want boom", driver.ItemError(err, 2))
	}
	if got := Move(context.Background(), send, nil, nil, settle, nil, 0); got != nil {
		t.Errorf("Move of nothing = %v", got)
	}
}

func TestEachSendsEveryCopyAndReportsItsError(t *testing.T) {
	boom := errors.New("boom")
	send := Each(func(_ context.Context, k int, m *driver.Message) error {
		if string(m.Body) != strconv.Itoa(k) {
			t.Errorf("copy %d is %q", k, m.Body)
		}
		if k == 1 {
			return boom
		}
		return nil
	})
	err := send(context.Background(), []driver.Message{{Body: []byte("0")}, {Body: []byte("1")}})
	if driver.ItemError(err, 0) != nil || driver.ItemError(err, 1) != boom {
		t.Errorf("Each returned %v, want copy 1's error only", err)
	}
}

// FuzzParse checks that attributes as anyone may write them never panic
// Parse, never leave a carried attribute among the user's, never read a
// negative or uncapped delivery count, and survive a copy.
func FuzzParse(f *testing.F) {
	f.Add("color", "red", "0-17", "2", "1700000000123", "1700000000000")
	f.Add(AttrID, "x", "notanid", "-4", "99999999999999999999", "x")
	f.Add("k", "", "", "9223372036854775807", "-1", "-9223372036854775808")
	f.Fuzz(func(t *testing.T, k, v, id, delivered, due, published string) {
		attrs := map[string]string{k: v, AttrID: id, AttrDelivered: delivered, AttrDue: due, AttrPublished: published}
		user, c := Parse(attrs)
		for a := range user {
			if Carries(a) {
				t.Fatalf("carried %q among the user's attributes", a)
			}
		}
		if c.Delivered < 0 || c.Delivered > MaxDelivered {
			t.Fatalf("delivered %q read as %d", delivered, c.Delivered)
		}
		m := &driver.Message{ID: "m", Attributes: user}
		next := min(c.Delivered+1, MaxDelivered)
		cp := Copy(m, Carried{ID: c.ID, Delivered: next, Published: c.Published})
		if _, c2 := Parse(cp.Attributes); c2.Delivered != next || (c.ID != "" && c2.ID != c.ID) {
			t.Fatalf("copy carries %+v, want %d deliveries and ID %q", c2, next, c.ID)
		}
		dl := DeadLetter(m, v, c.Delivered+1, "t/s", 0)
		if dl.Attributes[driver.AttrAttempts] != strconv.Itoa(c.Delivered+1) {
			t.Fatalf("dead letter attempts %q", dl.Attributes[driver.AttrAttempts])
		}
	})
}

// FuzzCheckpoint checks that ParseCheckpoint never panics, reads back what
// FormatCheckpoint writes, and reads no negative or uncapped count.
func FuzzCheckpoint(f *testing.F) {
	for _, s := range []string{"portmq:17:2", "portmq:-1:0", "portmq:1", "portmq::", "other", "", "portmq:1:-1", "portmq:a:b:3", "portmq:0:9223372036854775807"} {
		f.Add(s, "17", 2)
	}
	f.Fuzz(func(t *testing.T, md, pos string, n int) {
		if _, c, ok := ParseCheckpoint(md); ok && (c < 0 || c > MaxDelivered) {
			t.Fatalf("ParseCheckpoint(%q) read count %d", md, c)
		}
		if n < 0 {
			return
		}
		s := FormatCheckpoint(pos, n)
		if p, c, ok := ParseCheckpoint(s); !ok || p != pos || c != min(n, MaxDelivered) {
			t.Fatalf("ParseCheckpoint(%q) = %q, %d, %v; want %q, %d", s, p, c, ok, pos, min(n, MaxDelivered))
		}
	})
}
