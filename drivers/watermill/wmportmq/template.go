package wmportmq

import (
	"net/url"
	"strings"

	"github.com/portmq/portmq/mq"
)

// Placeholders of URL templates.
const (
	// TopicPlaceholder stands for the Watermill topic in a URL template.
	TopicPlaceholder = "{topic}"
	// GroupPlaceholder stands for the consumer group in a subscriber's URL
	// template.
	GroupPlaceholder = "{group}"
)

// template is a portmq URL with placeholders.
type template struct {
	raw string
}

// parseTemplate checks that raw names the Watermill topic, and that every
// placeholder it holds is one of want.
func parseTemplate(op, raw string, want ...string) (template, error) {
	if !strings.Contains(raw, TopicPlaceholder) {
		return template{}, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "URL template " + quote(mq.Redact(raw)) + " has no " + TopicPlaceholder + " placeholder: every Watermill topic would go to one portmq topic"}
	}
	rest := raw
	for _, p := range want {
		rest = strings.ReplaceAll(rest, p, "")
	}
	if i := strings.Index(rest, "{"); i >= 0 {
		if j := strings.Index(rest[i:], "}"); j > 0 {
			return template{}, &mq.Error{Code: mq.InvalidArgument, Op: op, Msg: "URL template " + quote(mq.Redact(raw)) + ": unknown placeholder " + rest[i:i+j+1] + " (known: " + strings.Join(want, ", ") + ")"}
		}
	}
	return template{raw: raw}, nil
}

// expand returns the URL for a topic and a group, each escaped so that it
// is one path segment or one query value wherever it stands.
func (t template) expand(topic, group string) string {
	return strings.NewReplacer(TopicPlaceholder, escape(topic), GroupPlaceholder, escape(group)).Replace(t.raw)
}

// escape percent-encodes everything but RFC 3986's unreserved characters,
// which is valid in a path segment and in a query value alike.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func quote(s string) string { return `"` + s + `"` }
