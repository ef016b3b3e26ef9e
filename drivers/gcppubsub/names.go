package gcppubsub

import (
	"strconv"
	"strings"
)

// Pub/Sub resource names: projects/P/topics/T and projects/P/subscriptions/S.

const (
	kindTopic        = "topics"
	kindSubscription = "subscriptions"
)

// validProject accepts project IDs loosely (real ones are 6-30 bytes of
// a-z 0-9 -, domain-scoped ones contain '.' and ':'; emulators take more):
// 1 to 100 bytes of letters, digits and - . _ : ~, no '/'.
func validProject(p string) bool {
	if p == "" || len(p) > 100 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == ':' || c == '~':
		default:
			return false
		}
	}
	return true
}

// checkID checks a topic or subscription ID against Pub/Sub's rules: 3 to
// 255 bytes of letters, digits and - . _ ~ + %, starting with a letter,
// not starting with "goog".
func checkID(what, id string) error {
	bad := func(why string) error {
		return invalid("%s ID %s %s (want 3-255 bytes of letters, digits and - . _ ~ + %%, starting with a letter, not with \"goog\")", what, strconv.Quote(id), why)
	}
	if len(id) < 3 || len(id) > 255 {
		return bad("has " + strconv.Itoa(len(id)) + " bytes")
	}
	if c := id[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return bad("does not start with a letter")
	}
	if strings.HasPrefix(strings.ToLower(id), "goog") {
		return bad("starts with \"goog\"")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '%':
		default:
			return bad("contains " + strconv.QuoteRune(rune(c)))
		}
	}
	return nil
}

// fullName returns projects/P/KIND/ID.
func fullName(project, kind, id string) string {
	return "projects/" + project + "/" + kind + "/" + id
}

// splitName splits projects/P/KIND/ID; ok is false for anything else.
func splitName(name string) (project, kind, id string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || (parts[2] != kindTopic && parts[2] != kindSubscription) {
		return "", "", "", false
	}
	return parts[1], parts[2], parts[3], true
}

// resolveName turns a topic or subscription given as an ID (in project) or
// as a full name into a checked full name.
func resolveName(project, kind, nameOrID string) (string, error) {
	what := strings.TrimSuffix(kind, "s")
	if strings.Contains(nameOrID, "/") {
		p, k, id, ok := splitName(nameOrID)
		if !ok || k != kind {
			return "", invalid("%s name %s is neither an ID nor projects/PROJECT/%s/ID", what, strconv.Quote(nameOrID), kind)
		}
		if !validProject(p) {
			return "", invalid("project %s in %s name is not a valid project ID", strconv.Quote(p), what)
		}
		if err := checkID(what, id); err != nil {
			return "", err
		}
		return nameOrID, nil
	}
	if err := checkID(what, nameOrID); err != nil {
		return "", err
	}
	return fullName(project, kind, nameOrID), nil
}

// lastSegment returns what follows the last '/'.
func lastSegment(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}
