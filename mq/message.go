package mq

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portmq/portmq/mq/driver"
)

// Message is what a Producer sends.
type Message struct {
	// Body is the payload: any bytes, including none. Send copies nothing
	// the caller must keep: the caller may reuse Body after Send returns.
	Body []byte
	// Attributes are up to MaxAttributes key/value pairs of valid UTF-8.
	// Keys are 1 to 128 bytes and must not start with "portmq-", which is
	// reserved for portmq's metadata.
	Attributes map[string]string
	// Key is the ordering key: on an ordered subscription messages with the
	// same Key are delivered in send order.
	Key string
	// DedupID identifies a logical message for deduplication: producer-side
	// where the backend can, consumer-side with an IdempotencyStore.
	DedupID string
	// Delay asks that the message not be delivered before Send + Delay.
	Delay time.Duration

	// ID is set by Send to the ID the backend gave the message.
	ID string
}

// Limits that hold on every backend; a driver may set lower ones in its
// Capabilities.
const (
	// MaxAttributes is the most attributes a message may carry.
	MaxAttributes = 32
	// MaxAttributeKeyLen is the longest attribute key in bytes.
	MaxAttributeKeyLen = 128
	// MaxAttributeValueLen is the longest attribute value in bytes.
	MaxAttributeValueLen = 4096
	// MaxKeyLen is the longest ordering Key or DedupID in bytes.
	MaxKeyLen = 128
)

// validate checks m against the contract and the driver's limits.
func validate(m *Message, caps *driver.Capabilities) *Error {
	const op = "mq.Producer.Send"
	if m == nil {
		return newError(InvalidArgument, op, "nil message", nil)
	}
	if caps.MaxBodySize > 0 && len(m.Body) > caps.MaxBodySize {
		return newError(InvalidArgument, op, "body of "+strconv.Itoa(len(m.Body))+" bytes exceeds the backend's maximum of "+strconv.Itoa(caps.MaxBodySize), nil)
	}
	if n := len(m.Attributes); n > MaxAttributes || (caps.MaxAttributes > 0 && n > caps.MaxAttributes) {
		lim := MaxAttributes
		if caps.MaxAttributes > 0 && caps.MaxAttributes < lim {
			lim = caps.MaxAttributes
		}
		return newError(InvalidArgument, op, strconv.Itoa(n)+" attributes exceed the maximum of "+strconv.Itoa(lim), nil)
	}
	for k, v := range m.Attributes {
		if k == "" || len(k) > MaxAttributeKeyLen || !utf8.ValidString(k) {
			return newError(InvalidArgument, op, "attribute key "+strconv.Quote(k)+" must be 1 to 128 bytes of UTF-8", nil)
		}
		if strings.HasPrefix(k, driver.AttrPrefix) {
			return newError(InvalidArgument, op, "attribute key "+strconv.Quote(k)+" uses the reserved prefix \"portmq-\"", nil)
		}
		if len(v) > MaxAttributeValueLen || !utf8.ValidString(v) {
			return newError(InvalidArgument, op, "value of attribute "+strconv.Quote(k)+" must be at most 4096 bytes of UTF-8", nil)
		}
	}
	if len(m.Key) > MaxKeyLen || !utf8.ValidString(m.Key) {
		return newError(InvalidArgument, op, "Key must be at most 128 bytes of UTF-8", nil)
	}
	if len(m.DedupID) > MaxKeyLen || !utf8.ValidString(m.DedupID) {
		return newError(InvalidArgument, op, "DedupID must be at most 128 bytes of UTF-8", nil)
	}
	if m.Delay < 0 {
		return newError(InvalidArgument, op, "negative Delay "+m.Delay.String(), nil)
	}
	return nil
}
