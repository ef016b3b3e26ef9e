package gocloud

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/portmq/portmq/mq/driver"
)

// The Go CDK message has a body and string metadata only. The driver
// carries the rest of a portmq message in metadata entries of its own,
// with the "portmq-" prefix that portmq reserves, and removes them on
// receive.
const (
	// AttrID carries the message ID the driver gave the message on send
	// (the Go CDK returns none). A retried copy keeps it.
	AttrID = "portmq-id"
	// AttrPublishedAt carries the send time (the sender's clock, RFC 3339).
	AttrPublishedAt = "portmq-published-at"
	// AttrKey carries Message.Key.
	AttrKey = "portmq-key"
	// AttrDedupID carries Message.DedupID.
	AttrDedupID = "portmq-dedup-id"
	// AttrAttempt carries the attempt number of a retried copy (absent on
	// the first delivery).
	AttrAttempt = "portmq-attempt"
	// AttrRetryFor names the subscription a retried copy is for; other
	// subscriptions of the retry topic drop it.
	AttrRetryFor = "portmq-retry-for"
)

// ownAttrs are removed from received metadata.
var ownAttrs = [...]string{AttrID, AttrPublishedAt, AttrKey, AttrDedupID, AttrAttempt, AttrRetryFor}

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
	id, key, dedupID, retryFor string
	publishedAt                time.Time
	attempt                    int // 0: first delivery
}

// decode fills dm's attributes (the metadata without the driver's
// entries) and returns the entries.
func decode(md map[string]string) (attrs map[string]string, d decoded) {
	own := 0
	for _, k := range ownAttrs {
		if v, ok := md[k]; ok {
			own++
			switch k {
			case AttrID:
				d.id = v
			case AttrPublishedAt:
				d.publishedAt, _ = time.Parse(time.RFC3339Nano, v)
			case AttrKey:
				d.key = v
			case AttrDedupID:
				d.dedupID = v
			case AttrAttempt:
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					d.attempt = n
				}
			case AttrRetryFor:
				d.retryFor = v
			}
		}
	}
	if len(md) == own {
		return nil, d
	}
	if own == 0 {
		return md, d
	}
	attrs = make(map[string]string, len(md)-own)
	for k, v := range md {
		if !isOwn(k) {
			attrs[k] = v
		}
	}
	return attrs, d
}

func isOwn(k string) bool {
	for _, o := range ownAttrs {
		if k == o {
			return true
		}
	}
	return false
}

// retryMetadata returns the metadata of the copy of a received message
// that a nack republishes: the original's, with the next attempt number
// and the subscription it is for. A message not sent through portmq gets
// id (its Go CDK LoggableID), so that the copy keeps the ID.
func retryMetadata(md map[string]string, attempt int, sub, id string) map[string]string {
	out := make(map[string]string, len(md)+3)
	for k, v := range md {
		out[k] = v
	}
	if _, ok := out[AttrID]; !ok {
		out[AttrID] = id
	}
	out[AttrAttempt] = strconv.Itoa(attempt)
	out[AttrRetryFor] = sub
	return out
}
