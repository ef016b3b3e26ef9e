package awsmq

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/mq/driver"
)

// FuzzDecode feeds Decode messages as any producer (or a damaged portmq
// one) may send them: it must not panic, and what it returns must not
// carry portmq's wire attributes it understood.
func FuzzDecode(f *testing.F) {
	f.Add("hello", `{"a":"b"}`, BodyBase64, "k", "v", "3", "1700000000123", "g", false)
	f.Add("aGVsbG8=", `{"portmq-key":"k","x":"\ud83d\udd11"}`, BodyBase64, AttrKey, "key", "x", "-1", GeneratedPrefix+"abc", true)
	f.Add("-", `not json`, BodyEmpty, AttrID, "id", "99999999999999999999", "1e3", "", false)
	f.Add("", `{"a":1}`, "other", "", "", "", "", "", true)
	f.Fuzz(func(t *testing.T, body, packed, bodyKind, k, v, count, sent, group string, binary bool) {
		attrs := map[string]sqstypes.MessageAttributeValue{
			AttrBody:   {DataType: aws.String("String"), StringValue: aws.String(bodyKind)},
			AttrPacked: {DataType: aws.String("String"), StringValue: aws.String(packed)},
		}
		if binary {
			attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("Binary"), BinaryValue: []byte(v)}
		} else {
			attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		msg := &sqstypes.Message{
			MessageId:         aws.String("id"),
			Body:              aws.String(body),
			MessageAttributes: attrs,
			Attributes: map[string]string{
				"ApproximateReceiveCount": count, "SentTimestamp": sent,
				"MessageGroupId": group, "MessageDeduplicationId": group,
			},
		}
		var d driver.Message
		Decode(msg, &d)
		for _, a := range []string{AttrKey, AttrDedupID, AttrID} {
			if _, ok := d.Attributes[a]; ok {
				t.Fatalf("decoded attributes keep %s: %v", a, d.Attributes)
			}
		}
		if strings.HasPrefix(d.Key, GeneratedPrefix) && k != AttrKey && !strings.Contains(packed, "portmq-key") {
			t.Fatalf("generated group ID %q became the Key", d.Key)
		}
		Decode(&sqstypes.Message{}, &d) // nothing at all
	})
}

// FuzzEncodeDecode checks that any message mq accepts comes back from
// Encode and Decode as it was sent, on every kind of target.
func FuzzEncodeDecode(f *testing.F) {
	f.Add([]byte("hello"), "k", "v", "order-7", "d-1", uint8(0))
	f.Add([]byte{0, 0xff, 1}, "a.b", "ключ ✓ 🔑", "portmq:h:looks-generated", "", uint8(1))
	f.Add([]byte{}, "AWS.x", "\x00", "with space", "\ufffe", uint8(2))
	f.Add([]byte("x\uffff"), "n", "", strings.Repeat("k", 128), "d", uint8(3))
	targets := []Target{
		{MaxSize: 1 << 20},
		{FIFO: true, MaxSize: 1 << 20},
		{WithID: true, MaxSize: 256 << 10},
		{FIFO: true, WithID: true, MaxSize: 256 << 10},
	}
	f.Fuzz(func(t *testing.T, body []byte, k, v, key, dedup string, which uint8) {
		// What mq lets through (mq.Message validation).
		if k == "" || strings.HasPrefix(k, driver.AttrPrefix) || !utf8.ValidString(k) || !utf8.ValidString(v) ||
			!utf8.ValidString(key) || !utf8.ValidString(dedup) || len(key) > 1024 || len(dedup) > 1024 {
			return
		}
		target := targets[int(which)%len(targets)]
		attrs := map[string]string{k: v, "second": v + "2"}
		m := driver.Message{Body: body, Attributes: attrs, Key: key, DedupID: dedup}
		var e Encoded
		if err := Encode(&m, &target, &e); err != nil {
			if driver.CodeOf(err) != driver.InvalidArgument {
				t.Fatalf("Encode: %v, want code InvalidArgument", err)
			}
			return
		}
		var got driver.Message
		Decode(received(&e, target.FIFO), &got)
		switch {
		case !bytes.Equal(got.Body, body):
			t.Fatalf("body %q came back as %q", body, got.Body)
		case !maps.Equal(got.Attributes, attrs):
			t.Fatalf("attributes %q came back as %q", attrs, got.Attributes)
		case got.Key != key || got.DedupID != dedup:
			t.Fatalf("Key %q, DedupID %q came back as %q, %q", key, dedup, got.Key, got.DedupID)
		}
	})
}
