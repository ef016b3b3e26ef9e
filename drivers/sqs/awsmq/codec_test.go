package awsmq

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/mq/driver"
)

// received turns what Encode made into the message SQS would deliver.
func received(e *Encoded, fifo bool) *sqstypes.Message {
	m := &sqstypes.Message{
		MessageId:  aws.String("sqs-message-id"),
		Body:       aws.String(e.Body),
		Attributes: map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000123"},
	}
	if len(e.Attrs) > 0 {
		m.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
		for _, a := range e.Attrs {
			m.MessageAttributes[a.Name] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(a.Value)}
		}
	}
	if fifo {
		m.Attributes["MessageGroupId"] = e.GroupID
		m.Attributes["MessageDeduplicationId"] = e.DedupID
	}
	return m
}

func manyAttrs(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%02d", i)] = fmt.Sprintf("v%d", i)
	}
	return m
}

// awkward holds attributes SQS cannot carry natively: names outside its
// alphabet or with reserved prefixes, and empty or control-character
// values.
var awkward = map[string]string{
	"ключ":       "значение ✓",
	"AWS.thing":  "v",
	"amazon.x":   "v",
	"a..b":       "v",
	".lead":      "v",
	"trail.":     "v",
	"empty":      "",
	"ctrl":       "a\x00b\x1f",
	"nonchar":    "x\uffffy\ufffe",
	"emoji 🔑":    "🔑 outside the BMP",
	"quote\"\\":  "\"\\/",
	"plain-name": "plain value",
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	binary := make([]byte, 1000)
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	bodies := map[string][]byte{
		"empty":         nil,
		"text":          []byte("hello, world"),
		"crlf and tab":  []byte("a\r\nb\tc"),
		"utf-8":         []byte("ключ ✓ 🔑"),
		"nul":           {0},
		"U+FFFF":        []byte("x\uffff"),
		"invalid utf-8": {0xff, 0xfe, 'a'},
		"random binary": binary,
		"all byte value": func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(),
	}
	attrSets := map[string]map[string]string{
		"none":    nil,
		"ten":     manyAttrs(10),
		"32":      manyAttrs(32),
		"awkward": awkward,
	}
	keys := []string{"", "order-7", "ключ-🔑", "portmq:h:looks-generated", "with space", strings.Repeat("k", 128)}
	targets := map[string]Target{
		"standard": {MaxSize: 1 << 20},
		"fifo":     {FIFO: true, MaxSize: 1 << 20},
		"sns":      {WithID: true, MaxSize: 256 << 10},
		"sns fifo": {FIFO: true, WithID: true, MaxSize: 256 << 10},
	}
	for tname, target := range targets {
		for bname, body := range bodies {
			for aname, attrs := range attrSets {
				for ki, key := range keys {
					dedup := keys[(ki+1)%len(keys)]
					name := fmt.Sprintf("%s/%s/%s/key%d", tname, bname, aname, ki)
					m := driver.Message{Body: body, Attributes: attrs, Key: key, DedupID: dedup}
					var e Encoded
					if err := Encode(&m, &target, &e); err != nil {
						t.Fatalf("%s: Encode: %v", name, err)
					}
					checkWire(t, name, &e, target.FIFO)
					var got driver.Message
					Decode(received(&e, target.FIFO), &got)
					switch {
					case !bytes.Equal(got.Body, body):
						t.Errorf("%s: body %q came back as %q", name, body, got.Body)
					case !maps.Equal(got.Attributes, attrs):
						t.Errorf("%s: attributes %v came back as %v", name, attrs, got.Attributes)
					case got.Key != key || got.DedupID != dedup:
						t.Errorf("%s: Key %q, DedupID %q came back as %q, %q", name, key, dedup, got.Key, got.DedupID)
					case target.WithID && got.ID != e.ID, !target.WithID && got.ID != "sqs-message-id":
						t.Errorf("%s: ID %q (generated %q)", name, got.ID, e.ID)
					case got.Attempt != 2 || got.PublishedAt.UnixMilli() != 1700000000123:
						t.Errorf("%s: Attempt %d, PublishedAt %v", name, got.Attempt, got.PublishedAt)
					}
				}
			}
		}
	}
}

// checkWire checks that what Encode made is something SQS and SNS take.
func checkWire(t *testing.T, name string, e *Encoded, fifo bool) {
	t.Helper()
	if len(e.Attrs) > MaxNativeAttributes {
		t.Errorf("%s: %d native attributes", name, len(e.Attrs))
	}
	seen := map[string]bool{}
	size := len(e.Body)
	for _, a := range e.Attrs {
		if !validAttrName(a.Name) || a.Value == "" || !TextSafe(a.Value) || seen[a.Name] {
			t.Errorf("%s: attribute %q=%q is not valid for SQS (or repeated)", name, a.Name, a.Value)
		}
		seen[a.Name] = true
		size += len(a.Name) + len("String") + len(a.Value)
	}
	if e.Body == "" || !TextSafe(e.Body) {
		t.Errorf("%s: body %q is not valid for SQS", name, e.Body)
	}
	if size != e.Size {
		t.Errorf("%s: Size %d, want %d", name, e.Size, size)
	}
	if fifo && (!validFIFOID(e.GroupID) || !validFIFOID(e.DedupID)) {
		t.Errorf("%s: FIFO IDs %q, %q are not valid", name, e.GroupID, e.DedupID)
	}
	if !fifo && (e.GroupID != "" || e.DedupID != "") {
		t.Errorf("%s: FIFO IDs on a standard target", name)
	}
}

func TestAttributesWithinTheLimitTravelNatively(t *testing.T) {
	cases := []struct {
		name     string
		m        driver.Message
		target   Target
		native   int  // user attributes sent natively
		withPack bool // portmq-packed present
	}{
		{"10 attributes", driver.Message{Body: []byte("x"), Attributes: manyAttrs(10)}, Target{}, 10, false},
		{"9 attributes and a Key", driver.Message{Body: []byte("x"), Attributes: manyAttrs(9), Key: "k"}, Target{}, 9, false},
		{"10 attributes and a Key", driver.Message{Body: []byte("x"), Attributes: manyAttrs(10), Key: "k"}, Target{}, 9, true},
		{"10 attributes, FIFO with a valid Key", driver.Message{Body: []byte("x"), Attributes: manyAttrs(10), Key: "k"}, Target{FIFO: true}, 10, false},
		{"32 attributes", driver.Message{Body: []byte("x"), Attributes: manyAttrs(32)}, Target{}, 9, true},
		{"one empty value among 3", driver.Message{Body: []byte("x"), Attributes: map[string]string{"a": "1", "b": "", "c": "3"}}, Target{}, 2, true},
	}
	for _, c := range cases {
		var e Encoded
		if err := Encode(&c.m, &c.target, &e); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		native, packed := 0, false
		for _, a := range e.Attrs {
			switch {
			case a.Name == AttrPacked:
				packed = true
			case !strings.HasPrefix(a.Name, "portmq-"):
				native++
				if c.m.Attributes[a.Name] != a.Value {
					t.Errorf("%s: native %s=%q, sent %q", c.name, a.Name, a.Value, c.m.Attributes[a.Name])
				}
			}
		}
		if native != c.native || packed != c.withPack {
			t.Errorf("%s: %d native user attributes (packed: %v), want %d (%v); attrs %v", c.name, native, packed, c.native, c.withPack, e.Attrs)
		}
	}
}

func TestOverSizeMessageIsInvalidArgument(t *testing.T) {
	target := Target{MaxSize: 1024, Name: "sqs: queue q"}
	ok := driver.Message{Body: bytes.Repeat([]byte("a"), 1024)}
	var e Encoded
	if err := Encode(&ok, &target, &e); err != nil {
		t.Fatalf("a 1024-byte text body in a 1024-byte queue: %v", err)
	}
	for name, m := range map[string]driver.Message{
		"1025-byte text body":         {Body: bytes.Repeat([]byte("a"), 1025)},
		"1024-byte body, 1 attribute": {Body: bytes.Repeat([]byte("a"), 1000), Attributes: map[string]string{"k": strings.Repeat("v", 20)}},
		"binary body over 3/4":        {Body: bytes.Repeat([]byte{0}, MaxBinaryBody(1024, 0)+3)},
	} {
		err := Encode(&m, &target, &e)
		if driver.CodeOf(err) != driver.InvalidArgument || !strings.Contains(err.Error(), "1024") {
			t.Errorf("%s: Encode = %v, want InvalidArgument naming the limit", name, err)
		}
	}
}

func TestMaxBinaryBodyFits(t *testing.T) {
	for _, size := range []int{1024, 256 << 10, 1 << 20} {
		for _, extra := range []int{0, IDOverhead} {
			n := MaxBinaryBody(size, extra)
			m := driver.Message{Body: bytes.Repeat([]byte{0xff}, n)}
			target := Target{MaxSize: size, WithID: extra > 0}
			var e Encoded
			if err := Encode(&m, &target, &e); err != nil {
				t.Errorf("MaxBinaryBody(%d, %d) = %d does not fit: %v", size, extra, n, err)
			}
			m.Body = append(m.Body, 1, 2, 3)
			if err := Encode(&m, &target, &e); err == nil {
				t.Errorf("MaxBinaryBody(%d, %d) = %d: 3 more bytes still fit (%d of %d)", size, extra, n, e.Size, size)
			}
		}
	}
	if got := MaxBinaryBody(1<<20, 0); got != 786414 {
		t.Errorf("MaxBinaryBody(1 MiB) = %d, the package docs say 786414", got)
	}
	if got := MaxBinaryBody(256<<10, 0); got != 196590 {
		t.Errorf("MaxBinaryBody(256 KiB) = %d, the package docs say 196590", got)
	}
}

func TestFIFODelayIsRefused(t *testing.T) {
	m := driver.Message{Body: []byte("x"), Delay: 1e9}
	var e Encoded
	if err := Encode(&m, &Target{FIFO: true}, &e); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("Delay on a FIFO target: %v, want InvalidArgument", err)
	}
}

func TestFIFOIDs(t *testing.T) {
	a, _ := fifoID("ключ")
	b, _ := fifoID("ключ")
	if a != b || !strings.HasPrefix(a, GeneratedPrefix) {
		t.Errorf("hashed IDs of one key differ or lack the prefix: %q %q", a, b)
	}
	r1, carry1 := fifoID("")
	r2, _ := fifoID("")
	if r1 == r2 || carry1 {
		t.Errorf("IDs of messages without a key: %q %q (carry %v), want distinct random ones", r1, r2, carry1)
	}
	if id, carry := fifoID("order-7"); id != "order-7" || carry {
		t.Errorf("fifoID(order-7) = %q, %v", id, carry)
	}
}

func TestDecodeOtherProducers(t *testing.T) {
	m := &sqstypes.Message{
		MessageId: aws.String("id-1"),
		Body:      aws.String("plain text from another producer"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"s":        {DataType: aws.String("String"), StringValue: aws.String("str")},
			"n":        {DataType: aws.String("Number"), StringValue: aws.String("42.5")},
			"b":        {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
			"custom":   {DataType: aws.String("String.json"), StringValue: aws.String(`{"a":1}`)},
			AttrPacked: {DataType: aws.String("String"), StringValue: aws.String("not json")},
			AttrBody:   {DataType: aws.String("String"), StringValue: aws.String(BodyBase64)},
		},
		Attributes: map[string]string{"MessageGroupId": "group-1", "MessageDeduplicationId": "dedup-1"},
	}
	var d driver.Message
	Decode(m, &d)
	want := map[string]string{
		"s": "str", "n": "42.5", "b": base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), "custom": `{"a":1}`,
		AttrPacked: "not json", AttrBody: BodyBase64,
	}
	if string(d.Body) != "plain text from another producer" || !maps.Equal(d.Attributes, want) || d.Key != "group-1" || d.DedupID != "dedup-1" || d.ID != "id-1" {
		t.Errorf("decoded %+v", d)
	}
}

func TestTextSafe(t *testing.T) {
	for s, want := range map[string]bool{
		"":             true,
		"abc \t\r\n":   true,
		"ключ ✓ 🔑":     true,
		"\x00":         false,
		"\x7f":         true,
		"\x1b[0m":      false,
		"\ufffd":       true,
		"\ufffe":       false,
		"\uffff":       false,
		"\xff":         false,
		"\xed\xa0\x80": false, // an encoded surrogate
	} {
		if got := TextSafe(s); got != want {
			t.Errorf("TextSafe(%q) = %v, want %v", s, got, want)
		}
		if got := TextSafe([]byte(s)); got != want {
			t.Errorf("TextSafe([]byte(%q)) = %v, want %v", s, got, want)
		}
	}
}
