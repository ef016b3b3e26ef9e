package awsmq

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/mq/driver"
)

// SystemAttributes are the message system attributes Decode reads; pass
// them to ReceiveMessage.
var SystemAttributes = []sqstypes.MessageSystemAttributeName{
	sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
	sqstypes.MessageSystemAttributeNameSentTimestamp,
	sqstypes.MessageSystemAttributeNameMessageGroupId,
	sqstypes.MessageSystemAttributeNameMessageDeduplicationId,
	sqstypes.MessageSystemAttributeNameDeadLetterQueueSourceArn,
}

// Decode fills dst's ID, Body, Attributes, Key, DedupID, PublishedAt and
// Attempt from a received SQS message. It never fails: what is not in the
// wire format (a message from another producer, or a damaged portmq
// attribute) is read as it is.
func Decode(msg *sqstypes.Message, dst *driver.Message) {
	var attrs map[string]string
	var packed string
	hasPacked := false
	if n := len(msg.MessageAttributes); n > 0 {
		attrs = make(map[string]string, n)
		for k, v := range msg.MessageAttributes {
			val := attrValue(&v)
			if k == AttrPacked {
				packed, hasPacked = val, true
				continue
			}
			attrs[k] = val
		}
	}
	if hasPacked {
		var m map[string]string
		if err := json.Unmarshal([]byte(packed), &m); err == nil {
			for k, v := range m {
				attrs[k] = v
			}
		} else {
			attrs[AttrPacked] = packed // not ours: keep it as it came
		}
	}
	body := ""
	if msg.Body != nil {
		body = *msg.Body
	}
	dst.Body = []byte(body)
	sys := msg.Attributes
	dst.ID = deref(msg.MessageId)
	dst.Key = fifoOriginal(sys[string(sqstypes.MessageSystemAttributeNameMessageGroupId)])
	dst.DedupID = fifoOriginal(sys[string(sqstypes.MessageSystemAttributeNameMessageDeduplicationId)])
	if len(attrs) > 0 {
		if v, ok := attrs[AttrBody]; ok {
			switch v {
			case BodyBase64:
				if b, err := base64.StdEncoding.DecodeString(body); err == nil {
					dst.Body = b
					delete(attrs, AttrBody)
				}
			case BodyEmpty:
				dst.Body = nil
				delete(attrs, AttrBody)
			}
		}
		if v, ok := attrs[AttrKey]; ok {
			dst.Key = v
			delete(attrs, AttrKey)
		}
		if v, ok := attrs[AttrDedupID]; ok {
			dst.DedupID = v
			delete(attrs, AttrDedupID)
		}
		if v, ok := attrs[AttrID]; ok {
			dst.ID = v
			delete(attrs, AttrID)
		}
	}
	if len(attrs) == 0 {
		attrs = nil
	}
	dst.Attributes = attrs
	dst.Attempt = 0
	if v, ok := sys[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			dst.Attempt = n
		}
	}
	dst.PublishedAt = time.Time{}
	if v, ok := sys[string(sqstypes.MessageSystemAttributeNameSentTimestamp)]; ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			dst.PublishedAt = time.UnixMilli(ms)
		}
	}
}

// fifoOriginal returns the Key or DedupID a FIFO ID stands for: the ID
// itself unless portmq made it up (then the original, if any, is in an
// attribute).
func fifoOriginal(id string) string {
	if strings.HasPrefix(id, GeneratedPrefix) {
		return ""
	}
	return id
}

// attrValue returns an attribute's value as a string: String and Number
// values as they are, Binary values base64 encoded.
func attrValue(v *sqstypes.MessageAttributeValue) string {
	if v.StringValue != nil {
		return *v.StringValue
	}
	if v.BinaryValue != nil {
		return base64.StdEncoding.EncodeToString(v.BinaryValue)
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
