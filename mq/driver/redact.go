package driver

import (
	"net/url"
	"strconv"
	"strings"
)

// Redacted returns err with every occurrence of secret in its text, as
// given or URL-escaped (in userinfo or a query), replaced by xxxxx: for a
// native error whose text may echo a password the driver holds. errors.Is
// and errors.As still reach err through it. A nil err, an empty secret, or
// a text without the secret returns err itself.
func Redacted(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	if _, ok := err.(*redactedError); ok {
		return err
	}
	if msg := err.Error(); Redact(msg, secret) == msg {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

// Redact returns s with every occurrence of secret, as given or
// URL-escaped (as net/url writes userinfo, with every reserved byte
// escaped, as a query value, as a path), replaced by xxxxx.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	s = strings.ReplaceAll(s, secret, "xxxxx")
	goUserinfo := strings.TrimPrefix(url.UserPassword("", secret).String(), ":") // as net/url writes it
	for _, esc := range []string{goUserinfo, escapeUserinfo(secret), url.QueryEscape(secret), url.PathEscape(secret)} {
		if esc != secret {
			s = strings.ReplaceAll(s, esc, "xxxxx")
		}
	}
	return s
}

// redactedError is Redacted's: its text is err's without the secret.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string { return Redact(e.err.Error(), e.secret) }
func (e *redactedError) Unwrap() error { return e.err }

// escapeUserinfo escapes s as every byte but the unreserved ones: the
// strictest form a password takes in a URL's userinfo.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
	}
	return b.String()
}
