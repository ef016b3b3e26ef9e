package watermill

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq/driver"
)

// Metadata entries the driver adds to a Watermill message for what
// Watermill's message has no field for, and removes on receipt. The ID
// needs none: it is the Watermill message's UUID.
const (
	AttrKey         = "portmq-key"
	AttrDedupID     = "portmq-dedup-id"
	AttrPublishedAt = "portmq-published-at"
)

// encode returns the Watermill message of m, with a new UUID, which
// becomes m's ID once sent. The payload is copied: Watermill publishers
// may keep the message after Publish returns (gochannel does, until every
// subscriber acked it).
func encode(m *driver.Message, uuid string, now time.Time) *message.Message {
	md := make(message.Metadata, len(m.Attributes)+3)
	for k, v := range m.Attributes {
		md[k] = v
	}
	if m.Key != "" {
		md[AttrKey] = m.Key
	}
	if m.DedupID != "" {
		md[AttrDedupID] = m.DedupID
	}
	md[AttrPublishedAt] = now.UTC().Format(time.RFC3339Nano)
	wm := message.NewMessage(uuid, append([]byte(nil), m.Body...))
	wm.Metadata = md
	return wm
}

// decode fills dm from a received Watermill message: the metadata less the
// driver's entries become the attributes.
func decode(dm *driver.Message, m *message.Message) {
	dm.ID = m.UUID
	dm.Body = m.Payload
	own := 0
	for _, k := range [...]string{AttrKey, AttrDedupID, AttrPublishedAt} {
		v, ok := m.Metadata[k]
		if !ok {
			continue
		}
		own++
		switch k {
		case AttrKey:
			dm.Key = v
		case AttrDedupID:
			dm.DedupID = v
		case AttrPublishedAt:
			dm.PublishedAt, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	if len(m.Metadata) == own {
		return
	}
	attrs := make(map[string]string, len(m.Metadata)-own)
	for k, v := range m.Metadata {
		if k != AttrKey && k != AttrDedupID && k != AttrPublishedAt {
			attrs[k] = v
		}
	}
	dm.Attributes = attrs
}
