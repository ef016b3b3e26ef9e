package rabbitmq

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// AMQP headers. A message's attributes travel as headers of the same name
// (string values); Key, DedupID and the attempts made before a delayed
// nack travel in portmq's own headers, which never appear as attributes.
const (
	hdrKey   = "portmq-key"
	hdrDedup = "portmq-dedup-id"
	// hdrPrior is "N QUEUE": the message failed N deliveries from QUEUE
	// before it was republished to wait for a delayed retry.
	hdrPrior = "portmq-prior-attempts"

	hdrDeliveryCount = "x-delivery-count"
	hdrDeath         = "x-death"
)

// brokerHeader reports whether a header is set by the broker (or is
// portmq's internal bookkeeping) rather than an attribute.
func brokerHeader(k string) bool {
	switch k {
	case hdrKey, hdrDedup, hdrPrior, hdrDeliveryCount, hdrDeath:
		return true
	}
	return strings.HasPrefix(k, "x-first-death-") || strings.HasPrefix(k, "x-last-death-")
}

// Message IDs: a random per-process prefix and a counter.
var (
	idPrefix = func() string {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:]) + "-"
	}()
	idSeq atomic.Uint64
)

func newID() string {
	var buf [40]byte
	b := append(buf[:0], idPrefix...)
	b = strconv.AppendUint(b, idSeq.Add(1), 36)
	return string(b)
}

// toPublishing converts a message to send. Attributes, Key and DedupID
// become headers; the ID becomes the AMQP message-id; the message is
// persistent.
func toPublishing(m *driver.Message, now time.Time) amqp.Publishing {
	p := amqp.Publishing{
		MessageId:    newID(),
		Timestamp:    now,
		DeliveryMode: amqp.Persistent,
		Body:         m.Body,
	}
	if n := len(m.Attributes); n > 0 || m.Key != "" || m.DedupID != "" {
		h := make(amqp.Table, n+2)
		for k, v := range m.Attributes {
			h[k] = v
		}
		if m.Key != "" {
			h[hdrKey] = m.Key
		}
		if m.DedupID != "" {
			h[hdrDedup] = m.DedupID
		}
		p.Headers = h
	}
	return p
}

// entry is one delivery the subscription holds: not yet settled, either
// handed out to mq or waiting in the handle.
type entry struct {
	d        amqp.Delivery
	attrs    map[string]string
	key      string
	dedupID  string
	attempt  int    // attempt of the current hand-out
	handouts uint64 // local redeliveries (ordered subscriptions)
	owner    bool   // holds its key (ordered subscriptions)
}

// seqShift: an AckID's Seq holds the delivery tag and, above this bit, the
// hand-out number, so that a stale AckID of a locally redelivered message
// is told from the current one.
const seqShift = 48

func (e *entry) ackSeq() uint64 { return e.d.DeliveryTag | e.handouts<<seqShift }

// newEntry reads a delivery from queue: attributes, key, dedup ID and the
// attempt (prior attempts + x-delivery-count + 1). Dead letters that the
// broker moved by itself get portmq's dead-letter attributes from x-death.
func newEntry(d *amqp.Delivery, queue string) *entry {
	e := &entry{d: *d, attempt: 1}
	h := d.Headers
	if len(h) == 0 {
		return e
	}
	for k, v := range h {
		switch k {
		case hdrKey:
			e.key, _ = v.(string)
			continue
		case hdrDedup:
			e.dedupID, _ = v.(string)
			continue
		case hdrDeliveryCount:
			e.attempt += count(toInt(v))
			continue
		case hdrPrior:
			e.attempt += priorAttempts(v, queue)
			continue
		}
		if brokerHeader(k) {
			continue
		}
		s, ok := headerString(v)
		if !ok {
			continue
		}
		if e.attrs == nil {
			e.attrs = make(map[string]string, len(h))
		}
		e.attrs[k] = s
	}
	if deaths, ok := h[hdrDeath].([]any); ok {
		if _, has := e.attrs[driver.AttrDeadLetterReason]; !has {
			e.translateDeath(deaths, h)
		}
	}
	return e
}

// translateDeath sets the dead-letter attributes of a message the broker
// dead-lettered itself, from the newest x-death record that is not one of
// portmq's own delays.
func (e *entry) translateDeath(deaths []any, h amqp.Table) {
	for _, x := range deaths {
		t, ok := x.(amqp.Table)
		if !ok {
			continue
		}
		queue, _ := t["queue"].(string)
		reason, _ := t["reason"].(string)
		if isHoldingQueue(queue) || reason == "" {
			continue
		}
		exchange, _ := t["exchange"].(string)
		if e.attrs == nil {
			e.attrs = make(map[string]string, 3)
		}
		source := queue
		if exchange != "" {
			source = exchange + "/" + queue
		}
		e.attrs[driver.AttrSource] = source
		switch reason {
		case "delivery_limit":
			desc := "delivery limit reached"
			if n, ok := maxAttemptsOf(e.d.RoutingKey); ok {
				desc = "max attempts (" + strconv.Itoa(n) + ") reached"
				e.attrs[driver.AttrAttempts] = strconv.Itoa(n + priorAttempts(h[hdrPrior], queue))
			}
			e.attrs[driver.AttrDeadLetterReason] = desc
		case "rejected":
			// The driver rejects without requeue a message at max
			// attempts (retry.go: rejectToDeadLetter), which it does
			// exactly when the message's attempt reached max.
			if n, ok := maxAttemptsOf(e.d.RoutingKey); ok {
				e.attrs[driver.AttrDeadLetterReason] = "max attempts (" + strconv.Itoa(n) + ") reached"
				e.attrs[driver.AttrAttempts] = strconv.Itoa(n)
				break
			}
			e.attrs[driver.AttrDeadLetterReason] = "rejected by a consumer without requeue"
		case "expired":
			e.attrs[driver.AttrDeadLetterReason] = "message TTL expired"
		case "maxlen":
			e.attrs[driver.AttrDeadLetterReason] = "queue length limit exceeded"
		default:
			e.attrs[driver.AttrDeadLetterReason] = reason
		}
		return
	}
}

// maxAttemptsOf reads the max attempts a dead letter's routing key
// records (dlRoutingKey).
func maxAttemptsOf(routingKey string) (int, bool) {
	rest, ok := strings.CutPrefix(routingKey, dlKeyPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return count(n), true
}

// priorAttempts reads a hdrPrior value; it counts only for queue.
func priorAttempts(v any, queue string) int {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	n, q, ok := strings.Cut(s, " ")
	if !ok || q != queue {
		return 0
	}
	k, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0
	}
	return count(k)
}

// maxCount caps the counts read from headers, so that a damaged or
// foreign header cannot make an attempt count overflow.
const maxCount = 1 << 30

// count returns a count read from a header within [0, maxCount].
func count(n int64) int { return int(min(max(n, 0), maxCount)) }

func priorValue(attempts int, queue string) string {
	return strconv.Itoa(attempts) + " " + queue
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int16:
		return int64(n)
	case int8:
		return int64(n)
	case int:
		return int64(n)
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	}
	return 0
}

// headerString returns a header value as an attribute: strings as they
// are, other scalars (from non-portmq publishers) formatted; tables and
// arrays are not attributes.
func headerString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case time.Time:
		return x.UTC().Format(time.RFC3339), true
	case int64, int32, int16, int8, int, uint8, uint16, uint32:
		return strconv.FormatInt(toInt(x), 10), true
	}
	return "", false
}

// handout fills m with the entry for the caller. ref identifies the
// session the entry belongs to.
func (e *entry) handout(m *driver.Message, ref any) {
	*m = driver.Message{
		ID:          e.d.MessageId,
		Body:        e.d.Body,
		Attributes:  e.attrs,
		Key:         e.key,
		DedupID:     e.dedupID,
		PublishedAt: e.d.Timestamp,
		AckID:       driver.AckID{Ref: ref, Seq: e.ackSeq()},
		Attempt:     e.attempt,
		Native:      &e.d, // Delivery.As(**amqp.Delivery)
	}
}

// republishing copies the entry for a republish (to a wait queue or a
// dead-letter topic): same body, properties and attributes, with extra
// headers. The broker's delivery count is dropped: the copy is a new
// message whose attempts are carried in hdrPrior.
func (e *entry) republishing(extra map[string]string) amqp.Publishing {
	h := make(amqp.Table, len(e.attrs)+len(extra)+3)
	for k, v := range e.attrs {
		h[k] = v
	}
	for k, v := range extra {
		h[k] = v
	}
	if e.key != "" {
		h[hdrKey] = e.key
	}
	if e.dedupID != "" {
		h[hdrDedup] = e.dedupID
	}
	if d, ok := e.d.Headers[hdrDeath]; ok {
		h[hdrDeath] = d // keep the history of the broker's dead-lettering
	}
	d := &e.d
	return amqp.Publishing{
		Headers:         h,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}
