package wmportmq

import (
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/portmq/portmq/mq"
)

// UUIDAttribute is the attribute that carries a Watermill message's UUID
// through portmq: the same key as watermill-amqp's default UUID header, so
// that Watermill's own AMQP subscribers read it too.
const UUIDAttribute = "_watermill_message_uuid"

// MaxMetadata is the most metadata entries a published message may have:
// portmq's 32 attributes less the one that carries the UUID.
const MaxMetadata = mq.MaxAttributes - 1

// toPortmq converts a Watermill message to a portmq message, checking what
// only this package knows: the UUID attribute is one of portmq's 32. Key
// and value limits, and the reserved "portmq-" prefix, are checked by
// mq.Producer, whose error names the attribute.
func toPortmq(op string, m *message.Message, keyMetadata string) (*mq.Message, error) {
	if m == nil {
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "nil message"}
	}
	if len(m.Metadata) > MaxMetadata {
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "message " + strconv.Quote(m.UUID) + " has " + strconv.Itoa(len(m.Metadata)) + " metadata entries; portmq carries at most " + strconv.Itoa(MaxMetadata) + " besides the UUID (attribute " + UUIDAttribute + ")"}
	}
	if _, ok := m.Metadata[UUIDAttribute]; ok {
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "message " + strconv.Quote(m.UUID) + " has a metadata entry " + UUIDAttribute + ", which carries the UUID"}
	}
	if len(m.UUID) > mq.MaxAttributeValueLen {
		return nil, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "message UUID of " + strconv.Itoa(len(m.UUID)) + " bytes exceeds portmq's attribute value limit of " + strconv.Itoa(mq.MaxAttributeValueLen)}
	}
	attrs := make(map[string]string, len(m.Metadata)+1)
	for k, v := range m.Metadata {
		attrs[k] = v
	}
	attrs[UUIDAttribute] = m.UUID
	pm := &mq.Message{Body: m.Payload, Attributes: attrs}
	if keyMetadata != "" {
		pm.Key = m.Metadata[keyMetadata]
	}
	return pm, nil
}

// toWatermill converts a delivery to a Watermill message: the UUID from
// its attribute (the portmq ID for a message not sent through Watermill)
// and the other attributes as metadata.
func toWatermill(d *mq.Delivery) *message.Message {
	uuid, ok := d.Attributes[UUIDAttribute]
	if !ok {
		uuid = d.ID
	}
	md := make(message.Metadata, len(d.Attributes))
	for k, v := range d.Attributes {
		if k != UUIDAttribute {
			md[k] = v
		}
	}
	m := message.NewMessage(uuid, d.Body)
	m.Metadata = md
	return m
}
