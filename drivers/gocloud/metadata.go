package gocloud

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// The Go CDK message has a body and string metadata only. The driver
// carries the rest of a portmq message in metadata entries of its own,
// with the "portmq-" prefix that portmq reserves, and removes them on
// receive; a retried copy carries what package redeliver says besides.
const (
	// AttrID carries the message ID the driver gave the message on send
	// (the Go CDK returns none). A retried copy keeps it (redeliver.AttrID).
	AttrID = redeliver.AttrID
	// AttrPublishedAt carries the send time (the sender's clock, RFC 3339).
	AttrPublishedAt = "portmq-published-at"
	// AttrKey carries Message.Key.
	AttrKey = "portmq-key"
	// AttrDedupID carries Message.DedupID.
	AttrDedupID = "portmq-dedup-id"
	// AttrDelivered carries, on a retried copy, how many times the message
	// was delivered before it (absent on the first delivery): the copy's
	// attempt is one more (redeliver.AttrDelivered). It replaces the
	// attempt number that "portmq-attempt" carried.
	AttrDelivered = redeliver.AttrDelivered
	// AttrRetryFor names the subscription a retried copy is for; other
	// subscriptions of the retry topic drop it (redeliver.AttrFor).
	AttrRetryFor = redeliver.AttrFor
)

// ownAttrs are removed from received metadata: the driver's entries and
// what a retried copy carries.
var ownAttrs = append(redeliver.Attrs[:len(redeliver.Attrs):len(redeliver.Attrs)], AttrPublishedAt, AttrKey, AttrDedupID, attrAttemptV1)

// attrAttemptV1 is what retried copies carried before AttrDelivered: the
// number of the attempt the copy is (deliveries so far plus one). A copy
// still waiting in a retry topic from then is read with its count kept.
const attrAttemptV1 = "portmq-attempt"

// idPrefix makes IDs unique across processes; idSeq within one.
var (
	idPrefix = newIDPrefix()
	idSeq    atomic.Uint64
)

func newIDPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func newID() string { return idPrefix + strconv.FormatUint(idSeq.Add(1), 36) }

// encode returns the Go CDK metadata of a message sent by portmq: its
// attributes plus the driver's entries. It sets m.ID.
func encode(m *driver.Message, now time.Time) map[string]string {
	md := make(map[string]string, len(m.Attributes)+4)
	for k, v := range m.Attributes {
		md[k] = v
	}
	m.ID = newID()
	md[AttrID] = m.ID
	md[AttrPublishedAt] = now.UTC().Format(time.RFC3339Nano)
	if m.Key != "" {
		md[AttrKey] = m.Key
	}
	if m.DedupID != "" {
		md[AttrDedupID] = m.DedupID
	}
	return md
}

// decoded is what the driver's metadata entries say about a received
// message.
type decoded struct {
	key, dedupID string
	publishedAt  time.Time
	redeliver.Carried
}

// decode returns md's attributes (the metadata without the driver's
// entries) and the entries.
func decode(md map[string]string) (attrs map[string]string, d decoded) {
	v1 := 0
	attrs = redeliver.Split(md, ownAttrs, func(k, v string) {
		switch k {
		case AttrPublishedAt:
			d.publishedAt, _ = time.Parse(time.RFC3339Nano, v)
		case AttrKey:
			d.key = v
		case AttrDedupID:
			d.dedupID = v
		case attrAttemptV1:
			if n, err := strconv.Atoi(v); err == nil && n > 1 {
				v1 = min(n-1, redeliver.MaxDelivered)
			}
		default:
			d.Read(k, v)
		}
	})
	if d.Delivered == 0 {
		d.Delivered = v1
	}
	return attrs, d
}

// retryMetadata returns the metadata of the copy of a received message,
// with metadata md and ID id, that a nack republishes (redeliver.Copy):
// the original's, with the deliveries so far and the subscription it is
// for.
func retryMetadata(md map[string]string, delivered int, sub, id string) map[string]string {
	return redeliver.Copy(&driver.Message{Attributes: md, ID: id}, redeliver.Carried{Delivered: delivered, For: sub}).Attributes
}
