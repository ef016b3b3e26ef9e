package awsmq

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portmq/portmq/mq/driver"
)

// Attribute names of the wire format (see the package doc).
const (
	AttrKey     = "portmq-key"
	AttrDedupID = "portmq-dedup-id"
	AttrID      = "portmq-id"
	AttrBody    = "portmq-body"
	AttrPacked  = "portmq-packed"
)

// Values of AttrBody.
const (
	BodyBase64 = "base64"
	BodyEmpty  = "empty"
)

// Limits of SQS and SNS.
const (
	// MaxNativeAttributes is how many message attributes SQS takes (and
	// SNS delivers to SQS with raw message delivery).
	MaxNativeAttributes = 10
	// MaxBatch is the most entries of one batch request.
	MaxBatch = 10
	// MaxIDLen is the longest MessageGroupId or MessageDeduplicationId.
	MaxIDLen = 128
	// GeneratedPrefix starts the FIFO IDs portmq makes up.
	GeneratedPrefix = "portmq:"
	// emptyBody is what an empty body is sent as.
	emptyBody = "-"
	// stringType is the DataType of every attribute portmq sends.
	stringType = "String"
)

// BodyOverhead is the size, as SQS counts it, of the attribute marking a
// base64 body.
const BodyOverhead = len(AttrBody) + len(stringType) + len(BodyBase64)

// IDOverhead is the size of the AttrID attribute carrying a generated ID.
const IDOverhead = len(AttrID) + len(stringType) + 36

// MaxBinaryBody returns the largest body of any bytes that fits a message
// of maxSize bytes (as SQS counts it) with extra bytes of attributes: the
// base64 encoding of the body plus its marker attribute.
func MaxBinaryBody(maxSize, extra int) int {
	n := (maxSize - BodyOverhead - extra) / 4 * 3
	return max(n, 0)
}

// Target describes where a message is sent.
type Target struct {
	// FIFO: the queue or topic is FIFO, so MessageGroupId and
	// MessageDeduplicationId are set.
	FIFO bool
	// MaxSize is the largest message (body and attributes) in bytes.
	MaxSize int
	// WithID makes Encode generate the message's ID and carry it in
	// AttrID (SNS, where subscribers do not see the ID SNS assigns).
	WithID bool
	// Name names the queue or topic in errors.
	Name string
}

// Attr is one message attribute of type String.
type Attr struct{ Name, Value string }

// Encoded is a message in the wire format.
type Encoded struct {
	Body    string
	Attrs   []Attr // at most MaxNativeAttributes
	GroupID string // FIFO only
	DedupID string // FIFO only
	ID      string // with Target.WithID
	// Size is the message's size as SQS counts it.
	Size int
}

// entry is a candidate attribute.
type entry struct {
	name, value string
	user        bool
}

// Encode turns m into e for t. It fails, with code InvalidArgument, only
// for a message over t.MaxSize or a Delay on a FIFO target.
func Encode(m *driver.Message, t *Target, e *Encoded) error {
	*e = Encoded{Attrs: e.Attrs[:0]}
	var meta []entry
	if len(m.Body) > 0 && TextSafe(m.Body) {
		e.Body = string(m.Body)
	} else if len(m.Body) == 0 {
		e.Body = emptyBody
		meta = append(meta, entry{AttrBody, BodyEmpty, false})
	} else {
		e.Body = base64.StdEncoding.EncodeToString(m.Body)
		meta = append(meta, entry{AttrBody, BodyBase64, false})
	}
	if t.FIFO {
		if m.Delay > 0 {
			return driver.NewError(driver.InvalidArgument, t.Name+": FIFO queues and topics take no per-message delay")
		}
		var carry bool
		e.GroupID, carry = fifoID(m.Key)
		if carry {
			meta = append(meta, entry{AttrKey, m.Key, false})
		}
		e.DedupID, carry = fifoID(m.DedupID)
		if carry {
			meta = append(meta, entry{AttrDedupID, m.DedupID, false})
		}
	} else {
		if m.Key != "" {
			meta = append(meta, entry{AttrKey, m.Key, false})
		}
		if m.DedupID != "" {
			meta = append(meta, entry{AttrDedupID, m.DedupID, false})
		}
	}
	if t.WithID {
		e.ID = NewID()
		meta = append(meta, entry{AttrID, e.ID, false})
	}
	e.Size = len(e.Body)
	if len(m.Attributes)+len(meta) > 0 {
		e.Attrs = packAttrs(e.Attrs, m.Attributes, meta)
		for _, a := range e.Attrs {
			e.Size += len(a.Name) + len(stringType) + len(a.Value)
		}
	}
	if t.MaxSize > 0 && e.Size > t.MaxSize {
		return driver.NewError(driver.InvalidArgument, t.Name+": message of "+strconv.Itoa(e.Size)+
			" bytes as sent (body, base64 encoded if binary, and attributes) exceeds the maximum message size of "+strconv.Itoa(t.MaxSize)+" bytes")
	}
	return nil
}

// fifoID returns the FIFO ID for a Key or DedupID, and whether the
// original must be carried in an attribute: a valid ID not starting with
// GeneratedPrefix is used as it is; another one is hashed; none gets a
// random ID.
func fifoID(s string) (string, bool) {
	switch {
	case s == "":
		return GeneratedPrefix + randomHex(16), false
	case validFIFOID(s) && !strings.HasPrefix(s, GeneratedPrefix):
		return s, false
	}
	sum := sha256.Sum256([]byte(s))
	return GeneratedPrefix + "h:" + hex.EncodeToString(sum[:]), true
}

// validFIFOID reports whether s is a valid MessageGroupId or
// MessageDeduplicationId: 1 to 128 characters from ASCII 33 to 126.
func validFIFOID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// packAttrs chooses which entries go as native attributes and packs the
// rest into AttrPacked.
func packAttrs(dst []Attr, user map[string]string, meta []entry) []Attr {
	all := true
	for k, v := range user {
		all = all && nativeOK(k, v)
	}
	for _, m := range meta {
		all = all && nativeOK(m.name, m.value)
	}
	if all && len(user)+len(meta) <= MaxNativeAttributes {
		for k, v := range user {
			dst = append(dst, Attr{k, v})
		}
		for _, m := range meta {
			dst = append(dst, Attr{m.name, m.value})
		}
		return dst
	}
	// Deterministic: user attributes by name, then portmq's.
	entries := make([]entry, 0, len(user)+len(meta))
	for k, v := range user {
		entries = append(entries, entry{k, v, true})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	entries = append(entries, meta...)
	var packed []entry
	for _, en := range entries {
		if len(dst) < MaxNativeAttributes-1 && nativeOK(en.name, en.value) {
			dst = append(dst, Attr{en.name, en.value})
		} else {
			packed = append(packed, en)
		}
	}
	return append(dst, Attr{AttrPacked, packJSON(packed)})
}

// nativeOK reports whether an attribute can travel as a native String
// attribute: a valid name and a non-empty value of allowed characters.
func nativeOK(name, value string) bool {
	return validAttrName(name) && value != "" && TextSafe(value)
}

// validAttrName applies the SQS and SNS rules for message attribute names:
// up to 256 characters of A-Z a-z 0-9 _ - ., no leading, trailing or
// doubled period, and no AWS. or Amazon. prefix (any case).
func validAttrName(s string) bool {
	if s == "" || len(s) > 256 || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	low := strings.ToLower(s)
	return !strings.HasPrefix(low, "aws.") && !strings.HasPrefix(low, "amazon.")
}

// TextSafe reports whether b (a []byte or string) is valid UTF-8 made only
// of the characters SQS accepts in bodies and attribute values: #x9, #xA,
// #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
func TextSafe[T []byte | string](b T) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		var r rune
		var n int
		switch s := any(b).(type) {
		case string:
			r, n = utf8.DecodeRuneInString(s[i:])
		case []byte:
			r, n = utf8.DecodeRune(s[i:])
		}
		if r == utf8.RuneError && n <= 1 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += n
	}
	return true
}

// packJSON encodes entries as a JSON object in pure ASCII.
func packJSON(entries []entry) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, en := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, en.name)
		b.WriteByte(':')
		writeJSONString(&b, en.value)
	}
	b.WriteByte('}')
	return b.String()
}

const hexDigits = "0123456789abcdef"

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r >= 0x20 && r < 0x7f:
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			writeU(b, 0xD800+(r>>10))
			writeU(b, 0xDC00+(r&0x3FF))
		default:
			writeU(b, r)
		}
	}
	b.WriteByte('"')
}

func writeU(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>shift)&0xF])
	}
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// NewID returns a random ID in the format of an AWS message ID (a version
// 4 UUID).
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
