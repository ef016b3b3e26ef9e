package kafka

import (
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
	"github.com/portmq/portmq/mq/driver/redeliver"
)

// Record headers the driver uses. User attributes travel as headers of
// their own names (their keys cannot start with "portmq-"). Retry copies
// carry the attributes of package redeliver (the original's ID, the
// deliveries so far, the due time, the original's publish time), and
// Message.Delay travels as its due-time header; those and hdrDedupID are
// removed on receive. The dead-letter headers are not, so that readers of
// a dead-letter topic see them as attributes.
const (
	// hdrDedupID carries Message.DedupID.
	hdrDedupID = "portmq-dedup-id"

	// Dead-letter metadata beyond the three attributes of package driver:
	// where the message was when it was dead-lettered.
	HeaderSourceTopic     = "portmq-source-topic"
	HeaderSourcePartition = "portmq-source-partition"
	HeaderSourceOffset    = "portmq-source-offset"
)

// internalHeader reports whether k is removed from the attributes of a
// received message.
func internalHeader(k string) bool { return k == hdrDedupID || redeliver.Carries(k) }

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
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: redeliver.AttrDue, Value: redeliver.AppendDue(nil, now.Add(m.Delay))})
	}
}

// meta is what the driver reads from a fetched record's headers.
type meta struct {
	delivered int   // deliveries before this record was written
	due       int64 // Unix nanoseconds; 0: now
}

func readMeta(r *kgo.Record) meta {
	var c redeliver.Carried
	for _, h := range r.Headers {
		if redeliver.Carries(h.Key) {
			c.Read(h.Key, string(h.Value))
		}
	}
	m := meta{delivered: c.Delivered}
	if !c.Due.IsZero() {
		m.due = c.Due.UnixNano()
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
	if len(r.Headers) == 0 {
		return
	}
	var c redeliver.Carried
	for _, h := range r.Headers {
		v := string(h.Value)
		switch {
		case h.Key == hdrDedupID:
			m.DedupID = v
		case c.Read(h.Key, v):
		default:
			if m.Attributes == nil {
				m.Attributes = make(map[string]string, len(r.Headers))
			}
			m.Attributes[h.Key] = v
		}
	}
	m.ID = c.ID
	if !c.Published.IsZero() {
		m.PublishedAt = c.Published
	}
}

// received returns the message a delivery of r carries, with its ID.
func received(r *kgo.Record) driver.Message {
	var m driver.Message
	fillMessage(&m, r)
	if m.ID == "" {
		m.ID = messageID(r.Partition, r.Offset)
	}
	return m
}

// origin returns the message's place in the subscribed topic: the
// record's own for a record of the topic, the original's (from its ID)
// for a retry copy.
func origin(r *kgo.Record, id string) (partition int32, offset int64) {
	if p, o, ok := strings.Cut(id, "-"); ok {
		pn, err1 := strconv.ParseInt(p, 10, 32)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if err1 == nil && err2 == nil {
			return int32(pn), on
		}
	}
	return r.Partition, r.Offset
}

// retryCopy returns the copy to write to the retry topic of r, which was
// delivered delivered times and is due at due.
func retryCopy(r *kgo.Record, delivered int, due time.Time) driver.Message {
	m := received(r)
	return redeliver.Copy(&m, redeliver.Carried{Delivered: delivered, Due: due})
}

// deadLetterCopy returns the copy to write to the dead-letter topic of r,
// a message of subscription source (TOPIC/SUBSCRIPTION) on topic srcTopic,
// dead-lettered after attempts deliveries for reason.
func deadLetterCopy(r *kgo.Record, source, srcTopic string, attempts int, reason string) driver.Message {
	m := received(r)
	p, o := origin(r, m.ID)
	dl := redeliver.DeadLetter(&m, reason, attempts, source, 3)
	dl.Attributes[HeaderSourceTopic] = srcTopic
	dl.Attributes[HeaderSourcePartition] = strconv.FormatInt(int64(p), 10)
	dl.Attributes[HeaderSourceOffset] = strconv.FormatInt(o, 10)
	return dl
}

// copyRecord returns the record of a copy to write to topic.
func copyRecord(m *driver.Message, topic string) *kgo.Record {
	r := &kgo.Record{}
	toRecord(r, m, topic, time.Time{})
	return r
}
