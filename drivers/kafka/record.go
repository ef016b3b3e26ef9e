package kafka

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
)

// Record headers the driver uses. User attributes travel as headers of
// their own names (their keys cannot start with "portmq-"). The internal
// headers below are removed on receive; the dead-letter headers are not,
// so that readers of a dead-letter topic see them as attributes.
const (
	// hdrID is the message ID ("PARTITION-OFFSET" of the original record
	// in the subscribed topic), carried by retry copies.
	hdrID = "portmq-id"
	// hdrDelivered is how many times the message was delivered before
	// (retry copies).
	hdrDelivered = "portmq-delivered"
	// hdrDue is when the message may be delivered, in Unix milliseconds
	// (Message.Delay, Nack with a delay).
	hdrDue = "portmq-due"
	// hdrPublished is the original publish time of a retry copy, in Unix
	// milliseconds.
	hdrPublished = "portmq-published"
	// hdrDedupID carries Message.DedupID.
	hdrDedupID = "portmq-dedup-id"

	// Dead-letter metadata beyond the three attributes of package driver:
	// where the message was when it was dead-lettered.
	HeaderSourceTopic     = "portmq-source-topic"
	HeaderSourcePartition = "portmq-source-partition"
	HeaderSourceOffset    = "portmq-source-offset"
)

// maxReasonLen caps the dead-letter reason header.
const maxReasonLen = 1024

// internalHeader reports whether k is removed from the attributes of a
// received message.
func internalHeader(k string) bool {
	switch k {
	case hdrID, hdrDelivered, hdrDue, hdrPublished, hdrDedupID:
		return true
	}
	return false
}

// messageID is the ID of the record at partition and offset.
func messageID(partition int32, offset int64) string {
	var b [32]byte
	return string(appendID(b[:0], partition, offset))
}

func appendID(b []byte, partition int32, offset int64) []byte {
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, offset, 10)
}

// idList builds the IDs of a batch of records, cut from one string: one
// allocation per batch. It can be reused.
type idList struct {
	buf  []byte
	ends []int
	all  string
}

// reset empties l, keeping its scratch space.
func (l *idList) reset() { l.buf, l.ends, l.all = l.buf[:0], l.ends[:0], "" }

// add appends the ID of the record at partition and offset.
func (l *idList) add(partition int32, offset int64) {
	l.buf = appendID(l.buf, partition, offset)
	l.ends = append(l.ends, len(l.buf))
}

// id returns the k-th ID added since reset; call only after every add.
func (l *idList) id(k int) string {
	if l.all == "" {
		l.all = string(l.buf)
	}
	start := 0
	if k > 0 {
		start = l.ends[k-1]
	}
	return l.all[start:l.ends[k]]
}

// toRecord fills r from a message to send to topic at now.
func toRecord(r *kgo.Record, m *driver.Message, topic string, now time.Time) {
	r.Topic = topic
	r.Value = m.Body
	if m.Key != "" {
		r.Key = []byte(m.Key)
	}
	n := len(m.Attributes)
	if m.DedupID != "" {
		n++
	}
	if m.Delay > 0 {
		n++
	}
	if n == 0 {
		return
	}
	r.Headers = make([]kgo.RecordHeader, 0, n)
	for k, v := range m.Attributes {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if m.DedupID != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: hdrDedupID, Value: []byte(m.DedupID)})
	}
	if m.Delay > 0 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: hdrDue, Value: millis(now.Add(m.Delay))})
	}
}

// millis encodes t as Unix milliseconds, rounded up so that a due time is
// never early.
func millis(t time.Time) []byte {
	ms := (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return strconv.AppendInt(nil, ms, 10)
}

func parseMillis(v []byte) (time.Time, bool) {
	ms, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// maxDeliveries caps the delivery counts read from headers and commit
// metadata, so that a damaged one cannot overflow an attempt count.
const maxDeliveries = 1 << 30

// meta is what the driver reads from a fetched record's headers.
type meta struct {
	delivered int   // deliveries before this record was written
	due       int64 // Unix nanoseconds; 0: now
}

func readMeta(r *kgo.Record) meta {
	var m meta
	for _, h := range r.Headers {
		switch h.Key {
		case hdrDelivered:
			if n, err := strconv.Atoi(string(h.Value)); err == nil && n > 0 {
				m.delivered = min(n, maxDeliveries)
			}
		case hdrDue:
			if t, ok := parseMillis(h.Value); ok {
				m.due = t.UnixNano()
			}
		}
	}
	return m
}

// fillMessage fills m with what a delivery of r carries; the ID only when
// a header carries it (see setIDsLocked).
func fillMessage(m *driver.Message, r *kgo.Record) {
	m.Body = r.Value
	if m.Body == nil {
		m.Body = []byte{}
	}
	if len(r.Key) > 0 {
		m.Key = string(r.Key)
	}
	m.PublishedAt = r.Timestamp
	if len(r.Headers) > 0 {
		for _, h := range r.Headers {
			switch h.Key {
			case hdrID:
				m.ID = string(h.Value)
			case hdrPublished:
				if t, ok := parseMillis(h.Value); ok {
					m.PublishedAt = t
				}
			case hdrDedupID:
				m.DedupID = string(h.Value)
			case hdrDelivered, hdrDue:
			default:
				if m.Attributes == nil {
					m.Attributes = make(map[string]string, len(r.Headers))
				}
				m.Attributes[h.Key] = string(h.Value)
			}
		}
	}
}

// origin returns the message ID and its place in the subscribed topic:
// the record's own for a record of the topic, the original's for a retry
// copy.
func origin(r *kgo.Record) (id string, partition int32, offset int64) {
	for _, h := range r.Headers {
		if h.Key == hdrID {
			id = string(h.Value)
			p, o, ok := strings.Cut(id, "-")
			if !ok {
				break
			}
			pn, err1 := strconv.ParseInt(p, 10, 32)
			on, err2 := strconv.ParseInt(o, 10, 64)
			if err1 != nil || err2 != nil {
				break
			}
			return id, int32(pn), on
		}
	}
	return messageID(r.Partition, r.Offset), r.Partition, r.Offset
}

// copyHeaders returns r's headers without the internal ones (and, for a
// dead letter, without earlier dead-letter metadata), with room for extra
// more.
func copyHeaders(r *kgo.Record, extra int, dead bool) []kgo.RecordHeader {
	hs := make([]kgo.RecordHeader, 0, len(r.Headers)+extra)
	for _, h := range r.Headers {
		if internalHeader(h.Key) && h.Key != hdrDedupID || dead && deadLetterHeader(h.Key) {
			continue
		}
		hs = append(hs, h)
	}
	return hs
}

func deadLetterHeader(k string) bool {
	switch k {
	case driver.AttrDeadLetterReason, driver.AttrAttempts, driver.AttrSource,
		HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset:
		return true
	}
	return false
}

// retryCopy returns the record to write to the retry topic for r, which
// was delivered delivered times and is due at due.
func retryCopy(r *kgo.Record, topic string, delivered int, due time.Time) *kgo.Record {
	id, _, _ := origin(r)
	hs := copyHeaders(r, 4, false)
	published := r.Timestamp
	for _, h := range r.Headers {
		if h.Key == hdrPublished {
			if t, ok := parseMillis(h.Value); ok {
				published = t
			}
		}
	}
	hs = append(hs,
		kgo.RecordHeader{Key: hdrID, Value: []byte(id)},
		kgo.RecordHeader{Key: hdrPublished, Value: strconv.AppendInt(nil, published.UnixMilli(), 10)},
		kgo.RecordHeader{Key: hdrDelivered, Value: strconv.AppendInt(nil, int64(delivered), 10)},
	)
	if !due.IsZero() {
		hs = append(hs, kgo.RecordHeader{Key: hdrDue, Value: millis(due)})
	}
	return &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value, Headers: hs}
}

// deadLetterCopy returns the record to write to the dead-letter topic for
// r, a message of subscription source (TOPIC/SUBSCRIPTION) on topic
// srcTopic, dead-lettered after attempts deliveries for reason.
func deadLetterCopy(r *kgo.Record, dlq, source, srcTopic string, attempts int, reason string) *kgo.Record {
	_, p, o := origin(r)
	if len(reason) > maxReasonLen {
		reason = truncateUTF8(reason, maxReasonLen)
	}
	hs := copyHeaders(r, 6, true)
	hs = append(hs,
		kgo.RecordHeader{Key: driver.AttrDeadLetterReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: driver.AttrAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
		kgo.RecordHeader{Key: driver.AttrSource, Value: []byte(source)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(srcTopic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(p), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, o, 10)},
	)
	return &kgo.Record{Topic: dlq, Key: r.Key, Value: r.Value, Headers: hs}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
