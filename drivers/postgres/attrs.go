package postgres

import (
	"encoding/binary"
	"errors"
)

// Attributes are stored as bytea (text cannot hold every UTF-8 string:
// PostgreSQL refuses NUL), as a uvarint count then, per pair, the
// uvarint-prefixed key and value. nil or empty maps are stored as NULL.

func encodeAttrs(m map[string]string) []byte {
	if len(m) == 0 {
		return nil
	}
	n := binary.MaxVarintLen64
	for k, v := range m {
		n += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

var errBadAttrs = errors.New("postgres: malformed attributes column")

// decodeAttrs decodes b into a map with room for extra more entries.
func decodeAttrs(b []byte, extra int) (map[string]string, error) {
	if len(b) == 0 {
		if extra == 0 {
			return nil, nil
		}
		return make(map[string]string, extra), nil
	}
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return nil, errBadAttrs
	}
	b = b[k:]
	m := make(map[string]string, int(cnt)+extra)
	next := func() (string, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(l)])
		b = b[k+int(l):]
		return s, true
	}
	for range cnt {
		key, ok1 := next()
		val, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errBadAttrs
		}
		m[key] = val
	}
	return m, nil
}
