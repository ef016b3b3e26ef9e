package gocloud

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

func TestMetadataRoundTripRemovesDriverEntries(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)
	user := map[string]string{"a": "1", driver.AttrDeadLetterReason: "kept: it is mq's"}
	m := driver.Message{Attributes: user, Key: "k", DedupID: "d"}
	md := encode(&m, now)
	if m.ID == "" || md[AttrID] != m.ID {
		t.Fatalf("encode set ID %q, metadata %v", m.ID, md)
	}
	attrs, d := decode(md)
	if !maps.Equal(attrs, user) {
		t.Errorf("decoded attributes %v, want %v", attrs, user)
	}
	if d.ID != m.ID || d.key != "k" || d.dedupID != "d" || !d.publishedAt.Equal(now) || d.Attempt() != 1 || d.For != "" {
		t.Errorf("decoded %+v", d)
	}
	r := retryMetadata(md, 1, "sub", d.ID)
	_, rd := decode(r)
	if rd.ID != m.ID || rd.Attempt() != 2 || rd.For != "sub" || rd.key != "k" || !rd.publishedAt.Equal(now) {
		t.Errorf("retry copy decodes to %+v", rd)
	}
	if _, ok := md[AttrDelivered]; ok {
		t.Errorf("retryMetadata changed the original metadata")
	}
}

func TestDecodeOfForeignMessages(t *testing.T) {
	// A message not sent through portmq: no entries, attributes as is.
	md := map[string]string{"x": "y"}
	attrs, d := decode(md)
	if !maps.Equal(attrs, md) || d.ID != "" {
		t.Errorf("decode(%v) = %v, %+v", md, attrs, d)
	}
	if attrs, _ := decode(map[string]string{AttrID: "1"}); attrs != nil {
		t.Errorf("only driver entries: attributes %v, want nil", attrs)
	}
	// A retried copy of a foreign message gets the ID it was delivered
	// with; a bad attempt number counts as the first.
	r := retryMetadata(md, 1, "s", "cdk-id")
	if r[AttrID] != "cdk-id" {
		t.Errorf("retry of a foreign message has ID %q, want cdk-id", r[AttrID])
	}
	if _, d := decode(map[string]string{AttrDelivered: "-3"}); d.Attempt() != 1 {
		t.Errorf("deliveries -3 decoded as attempt %d", d.Attempt())
	}
}

// TestCopiesOfTheOldFormatKeepTheirCount: copies republished before
// AttrDelivered carried the attempt number in portmq-attempt; one still in
// a retry topic keeps its count and does not show the entry.
func TestCopiesOfTheOldFormatKeepTheirCount(t *testing.T) {
	for _, c := range []struct {
		md   map[string]string
		want int
	}{
		{map[string]string{attrAttemptV1: "3", "a": "1"}, 3},
		{map[string]string{attrAttemptV1: "1"}, 1},
		{map[string]string{attrAttemptV1: "x"}, 1},
		{map[string]string{attrAttemptV1: "-7"}, 1},
		{map[string]string{attrAttemptV1: "3", AttrDelivered: "4"}, 5}, // the new entry wins
	} {
		attrs, d := decode(c.md)
		if d.Attempt() != c.want {
			t.Errorf("decode(%v): attempt %d, want %d", c.md, d.Attempt(), c.want)
		}
		if _, ok := attrs[attrAttemptV1]; ok {
			t.Errorf("decode(%v): attributes %v still hold %s", c.md, attrs, attrAttemptV1)
		}
	}
}

func TestIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if seen[id] || !strings.HasPrefix(id, idPrefix) {
			t.Fatalf("ID %q repeated or without the process prefix", id)
		}
		seen[id] = true
	}
}
