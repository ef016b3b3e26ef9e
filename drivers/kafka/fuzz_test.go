package kafka

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// FuzzParseURL checks that the URL parser never panics and fails only with
// typed errors that do not repeat the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"kafka://alice:s3cr3t-pw@b1:9092,b2/orders?subscription=g&mode=share&start=earliest&lease=1s&max_attempts=3&ordered=true&dead_letter=d&retry_topic=r",
		"kafka://u:hunter22@b1/orders?sasl=scram-sha-512&tls=true&tls_server_name=x&tls_insecure_skip_verify=true",
		"kafka://u:hunter22@b1/orders?sasl=kerberos", "kafka://b1/orders?sasl=plain", "kafka://b1/?mode=group",
		"kafka://b1/orders?session_timeout=10s&heartbeat_interval=1s&rebalance_timeout=1m&fetch_max_wait=5ms&commit_interval=0s",
		"kafka://b1,,b2/orders", "kafka://b1/a/b", "kafka:opaque", "kafka://b1/orders#f", "kafka://b1/orders?tls_server_name=x",
		"kafka://b1/orders?max_poll_records=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		if vals, err := url.ParseQuery(u.RawQuery); err == nil {
			for _, k := range []string{"tls_ca", "tls_cert", "tls_key"} {
				if _, ok := vals[k]; ok {
					return // reads files: not for a fuzzer to choose
				}
			}
		}
		for _, k := range []struct {
			withTopic bool
			allowed   []string
		}{{true, topicParams}, {true, subParams}, {false, adminParams}} {
			// Each step parses from u again, so that CheckURLError can run
			// it on u with another password.
			step := func(then func(p *parsed) error) func(*url.URL) error {
				return func(u *url.URL) error {
					p, err := parseURL(u, k.withTopic, k.allowed)
					if err != nil || then == nil {
						return err
					}
					return then(p)
				}
			}
			if testenv.CheckURLError(t, raw, u, step(nil)) != nil {
				continue
			}
			p, _ := parseURL(u, k.withTopic, k.allowed)
			if k.withTopic && checkName("topic", p.topic) != nil {
				t.Fatalf("%q: accepted topic %q", raw, p.topic)
			}
			if testenv.CheckURLError(t, raw, u, step(func(p *parsed) error { _, err := p.subscriptionOptions(); return err })) == nil {
				o, _ := p.subscriptionOptions()
				if o.Lease < 0 || o.MaxAttempts < 0 || o.MaxPollRecords < 0 {
					t.Fatalf("%q: negative option in %+v", raw, o)
				}
			}
			testenv.CheckURLError(t, raw, u, step(func(p *parsed) error { _, _, err := p.topicOptions(); return err }))
		}
	})
}

// FuzzRecordHeaders checks the decoding of record headers as any producer
// (or a damaged retry copy) may write them: fillMessage, readMeta, origin
// and the copies for retry and dead-lettering never panic, never hand out
// internal headers as attributes, and never read a negative delivery
// count.
func FuzzRecordHeaders(f *testing.F) {
	f.Add("color", []byte("red"), []byte("0-17"), []byte("2"), []byte("1700000000123"), []byte("1700000000000"), []byte("d"))
	f.Add(redeliver.AttrID, []byte("x"), []byte("notanid"), []byte("-4"), []byte("99999999999999999999"), []byte("x"), []byte(""))
	f.Add("k", []byte(""), []byte("2147483648-1"), []byte("9223372036854775807"), []byte("-1"), []byte("-9223372036854775808"), []byte("\xff"))
	f.Add(driver.AttrAttempts, []byte("3"), []byte("-1--1"), []byte(""), []byte(""), []byte(""), []byte(nil))
	f.Fuzz(func(t *testing.T, k string, v, id, delivered, due, published, dedup []byte) {
		r := &kgo.Record{
			Topic: "t", Partition: 3, Offset: 42, Value: v, Key: v, Timestamp: time.UnixMilli(1),
			Headers: []kgo.RecordHeader{
				{Key: k, Value: v}, {Key: redeliver.AttrID, Value: id}, {Key: redeliver.AttrDelivered, Value: delivered},
				{Key: redeliver.AttrDue, Value: due}, {Key: redeliver.AttrPublished, Value: published}, {Key: hdrDedupID, Value: dedup},
			},
		}
		meta := readMeta(r)
		if meta.delivered < 0 || meta.delivered > redeliver.MaxDelivered {
			t.Fatalf("delivered %q read as %d", delivered, meta.delivered)
		}
		var m driver.Message
		fillMessage(&m, r)
		for a := range m.Attributes {
			if internalHeader(a) {
				t.Fatalf("internal header %q among the attributes", a)
			}
		}
		oid := received(r).ID
		if oid == "" {
			t.Fatal("empty origin ID")
		}
		origin(r, oid)
		rm := retryCopy(r, meta.delivered+1, time.UnixMilli(5))
		rc := copyRecord(&rm, "t.retry")
		if got, want := readMeta(rc).delivered, min(meta.delivered+1, redeliver.MaxDelivered); got != want {
			t.Fatalf("retry copy carries %d deliveries, want %d", got, want)
		}
		if id2 := received(rc).ID; id2 != oid {
			t.Fatalf("retry copy has origin %q, want %q", id2, oid)
		}
		dm0 := deadLetterCopy(r, "t/s", "t", meta.delivered+1, string(v))
		dl := copyRecord(&dm0, "t.dlq")
		var dm driver.Message
		fillMessage(&dm, dl)
		if dm.Attributes[driver.AttrAttempts] != strconv.Itoa(meta.delivered+1) {
			t.Fatalf("dead letter attempts %q, want %d", dm.Attributes[driver.AttrAttempts], meta.delivered+1)
		}
	})
}

// FuzzCommitMetadata checks that parseMetadata never panics, reads back
// what metadata writes, and reads nothing negative from anything else.
func FuzzCommitMetadata(f *testing.F) {
	for _, s := range []string{"portmq:17:2", "portmq:-1:0", "portmq:1", "portmq::", "other", "", "portmq:9223372036854775808:1", "portmq:1:-1", "portmq:0:9223372036854775807"} {
		f.Add(s, int64(17), 2)
	}
	f.Fuzz(func(t *testing.T, md string, off int64, n int) {
		if o, c, ok := parseMetadata(md); ok && (c < 0 || c > redeliver.MaxDelivered) {
			t.Fatalf("parseMetadata(%q) = %d, %d, true: negative count", md, o, c)
		}
		if n < 0 {
			return
		}
		s := commitAt{off: off, n: n}.metadata()
		if o, c, ok := parseMetadata(s); !ok || o != off || c != min(n, redeliver.MaxDelivered) {
			t.Fatalf("parseMetadata(%q) = %d, %d, %v; want %d, %d", s, o, c, ok, off, min(n, redeliver.MaxDelivered))
		}
	})
}
