package rabbitmq

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

func TestPublishingCarriesAttributesKeyAndDedupID(t *testing.T) {
	m := driver.Message{Body: []byte("b"), Attributes: map[string]string{"a": "1", "x-foo": "2"}, Key: "k", DedupID: "d"}
	p := toPublishing(&m, time.Unix(100, 0))
	if p.DeliveryMode != amqp.Persistent || p.MessageId == "" || string(p.Body) != "b" {
		t.Errorf("publishing = %+v", p)
	}
	if p.Headers["a"] != "1" || p.Headers["x-foo"] != "2" || p.Headers[hdrKey] != "k" || p.Headers[hdrDedup] != "d" {
		t.Errorf("headers = %v", p.Headers)
	}
	if q := toPublishing(&driver.Message{}, time.Now()); q.Headers != nil {
		t.Errorf("a message without attributes has headers %v", q.Headers)
	}
	if a, b := newID(), newID(); a == b {
		t.Errorf("two IDs are equal: %s", a)
	}
}

func TestEntryReadsAttemptsAndHidesInternalHeaders(t *testing.T) {
	d := amqp.Delivery{
		MessageId: "m1", DeliveryTag: 7, Body: []byte("x"),
		Headers: amqp.Table{
			"user": "v", "n": int32(5), "f": 1.5, "ok": true, "tbl": amqp.Table{"a": "b"},
			hdrKey: "k", hdrDedup: "d", hdrPrior: "2 q", hdrDeliveryCount: int64(1),
			"x-first-death-queue": "q.portmq-wait-100ms",
			hdrDeath:              []any{amqp.Table{"queue": "q.portmq-wait-100ms", "reason": "expired", "exchange": ""}},
		},
	}
	e := newEntry(&d, "q")
	if e.attempt != 4 { // 2 before the delayed retry + 1 return + 1
		t.Errorf("attempt = %d, want 4", e.attempt)
	}
	want := map[string]string{"user": "v", "n": "5", "f": "1.5", "ok": "true"}
	if len(e.attrs) != len(want) {
		t.Errorf("attributes = %v, want %v", e.attrs, want)
	}
	for k, v := range want {
		if e.attrs[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, e.attrs[k], v)
		}
	}
	if e.key != "k" || e.dedupID != "d" {
		t.Errorf("key %q dedup %q", e.key, e.dedupID)
	}
	// The prior attempts of another queue do not count here.
	if other := newEntry(&d, "elsewhere"); other.attempt != 2 {
		t.Errorf("attempt read on another queue = %d, want 2", other.attempt)
	}
	var m driver.Message
	e.handout(&m, "ref")
	if nd, ok := m.Native.(*amqp.Delivery); m.ID != "m1" || m.Attempt != 4 || m.AckID.Seq != 7 || !ok || nd.DeliveryTag != 7 {
		t.Errorf("handout = %+v", m)
	}
}

func TestBrokerDeadLettersGetPortmqMetadata(t *testing.T) {
	d := amqp.Delivery{
		RoutingKey: dlRoutingKey(3),
		Headers: amqp.Table{
			"a": "b",
			hdrDeath: []any{
				amqp.Table{"queue": "orders.pay", "reason": "delivery_limit", "exchange": "orders", "count": int64(1)},
				amqp.Table{"queue": "orders.pay.portmq-wait-200ms", "reason": "expired", "exchange": ""},
			},
		},
	}
	e := newEntry(&d, "orders.pay.dlq")
	if e.attrs[driver.AttrDeadLetterReason] != "max attempts (3) reached" || e.attrs[driver.AttrAttempts] != "3" ||
		e.attrs[driver.AttrSource] != "orders/orders.pay" || e.attrs["a"] != "b" {
		t.Errorf("attributes = %v", e.attrs)
	}
	// Attempts made before a delayed retry of the source count too.
	d.Headers[hdrPrior] = "2 orders.pay"
	if e := newEntry(&d, "orders.pay.dlq"); e.attrs[driver.AttrAttempts] != "5" || e.attempt != 1 {
		t.Errorf("with prior attempts: attributes %v, attempt %d", e.attrs, e.attempt)
	}
	// A message the driver dead-lettered keeps its own metadata.
	d.Headers[driver.AttrDeadLetterReason] = "handler said so"
	if e := newEntry(&d, "orders.pay.dlq"); e.attrs[driver.AttrDeadLetterReason] != "handler said so" {
		t.Errorf("driver metadata overwritten: %v", e.attrs)
	}
	// Other reasons.
	for reason, want := range map[string]string{"rejected": "rejected", "expired": "TTL", "maxlen": "length"} {
		d := amqp.Delivery{Headers: amqp.Table{hdrDeath: []any{amqp.Table{"queue": "q", "reason": reason}}}}
		if e := newEntry(&d, "q.dlq"); !strings.Contains(e.attrs[driver.AttrDeadLetterReason], want) || e.attrs[driver.AttrSource] != "q" {
			t.Errorf("reason %s: attributes %v", reason, e.attrs)
		}
	}
	// Only portmq's own delays in x-death: not a dead letter.
	d = amqp.Delivery{Headers: amqp.Table{hdrDeath: []any{amqp.Table{"queue": "t.portmq-delay-100ms", "reason": "expired"}}}}
	if e := newEntry(&d, "q"); len(e.attrs) != 0 {
		t.Errorf("a delayed message got attributes %v", e.attrs)
	}
}

func TestRepublishingDropsTheDeliveryCount(t *testing.T) {
	e := newEntry(&amqp.Delivery{MessageId: "m", Body: []byte("b"), Headers: amqp.Table{"a": "1", hdrDeliveryCount: int64(3), hdrKey: "k"}}, "q")
	p := e.republishing(map[string]string{hdrPrior: priorValue(e.attempt, "q")})
	if _, ok := p.Headers[hdrDeliveryCount]; ok {
		t.Errorf("republished with %s: %v", hdrDeliveryCount, p.Headers)
	}
	if p.Headers["a"] != "1" || p.Headers[hdrKey] != "k" || p.Headers[hdrPrior] != "4 q" || p.MessageId != "m" || p.DeliveryMode != amqp.Persistent {
		t.Errorf("republished = %+v", p)
	}
}
