package driver

import (
	"net/url"
	"strings"
)

// SASL reads the credentials of a URL that authenticates with SASL: the
// user and password of u's user information, and the mechanism the
// parameter "sasl" names, one of mechanisms (matched without regard to
// case; mech is the one of mechanisms, as spelled there), the first of
// them when the parameter is absent. Without a user in u, mech is ""
// (no authentication), and a "sasl" parameter is refused. Its errors wrap
// ErrInvalidURL and never show the user, the password or the parameter.
func (q Query) SASL(prefix string, u *url.URL, mechanisms ...string) (mech, user, pass string, err error) {
	v, given := q["sasl"]
	if u.User == nil {
		if given {
			return "", "", "", QueryError(prefix, "parameter \"sasl\" needs a user (and password) in the URL: "+prefix+"://USER:PASSWORD@HOST:PORT/...")
		}
		return "", "", "", nil
	}
	if !given && len(mechanisms) > 0 {
		v = mechanisms[0]
	}
	for _, m := range mechanisms {
		if strings.EqualFold(v, m) {
			pass, _ = u.User.Password()
			return m, u.User.Username(), pass, nil
		}
	}
	return "", "", "", q.Want(prefix, "sasl", joinOr(mechanisms))
}

// joinOr lists words as "a, b or c".
func joinOr(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}
