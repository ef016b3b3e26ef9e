package redis

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/internal/testenv"
	"github.com/portmq/portmq/mq/driver"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url, want string // want: "" ok, else a substring of the error
		addr      string
		db        int
		user      string
		pass      string
		prefix    string
	}{
		{url: "redis://127.0.0.1/?topic=t", addr: "127.0.0.1:6379", prefix: "portmq"},
		{url: "redis://h:7000/3?topic=t&prefix=app", addr: "h:7000", db: 3, prefix: "app"},
		{url: "rediss://alice:s3cret@h/1?topic=t", addr: "h:6379", db: 1, user: "alice", pass: "s3cret", prefix: "portmq"},
		{url: "redis://:s3cret@[::1]/?topic=t", addr: "[::1]:6379", pass: "s3cret", prefix: "portmq"},
		{url: "redis:///?topic=t", want: "missing host"},
		{url: "redis://h/x?topic=t", want: "not a database number"},
		{url: "redis://h/-1?topic=t", want: "not a database number"},
		{url: "redis://h/?topic=t&bogus=1", want: `unknown parameter "bogus"`},
		{url: "redis://h/?topic=t&topic=u", want: "more than once"},
		{url: "redis://h/?topic=t&prefix=a:b", want: "must not contain"},
		{url: "redis://h/?topic=t&dial_timeout=soon", want: "dial_timeout"},
		{url: "redis://h/?topic=t#frag", want: "fragment"},
		{url: "amqp://h/?topic=t", want: "not redis"},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		q, err := parseURL(u, topicParams)
		if c.want != "" {
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, driver.ErrInvalidURL) && driver.CodeOf(err) != driver.InvalidArgument {
				t.Errorf("%s: error %v, want an InvalidArgument one containing %q", c.url, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error %q has the password", c.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if q.opts.Addr != c.addr || q.opts.DB != c.db || q.opts.Username != c.user || q.opts.Password != c.pass || q.prefix != c.prefix {
			t.Errorf("%s: addr %q db %d user %q password %q prefix %q, want %q %d %q %q %q", c.url, q.opts.Addr, q.opts.DB, q.opts.Username, q.opts.Password, q.prefix, c.addr, c.db, c.user, c.pass, c.prefix)
		}
		if strings.Contains(q.redacted, "s3cret") {
			t.Errorf("%s: redacted form %q has the password", c.url, q.redacted)
		}
	}
}

func TestSubscriptionURLParameters(t *testing.T) {
	o := new(URLOpener)
	ctx := context.Background()
	for _, raw := range []string{
		"redis://127.0.0.1:1/?topic=t",                                // no subscription
		"redis://127.0.0.1:1/?topic=t&subscription=s&lease=0s",        // lease below 1ms
		"redis://127.0.0.1:1/?topic=t&subscription=s&lease=-1s",       // negative
		"redis://127.0.0.1:1/?topic=t&subscription=s&max_attempts=x",  // not a number
		"redis://127.0.0.1:1/?topic=t&subscription=s&ordered=maybe",   // not a bool
		"redis://127.0.0.1:1/?topic=t&subscription=s&dead_letter=a:b", // bad name
		"redis://127.0.0.1:1/?topic=t&subscription=s&maxlen=10",       // a topic parameter
		"redis://127.0.0.1:1/?subscription=s",                         // no topic
	} {
		u, _ := url.Parse(raw)
		_, err := o.OpenSubscription(ctx, u)
		if err == nil || driver.CodeOf(err) != driver.InvalidArgument && !errors.Is(err, driver.ErrInvalidURL) {
			t.Errorf("%s: %v, want an InvalidArgument error", raw, err)
		}
	}
	u, _ := url.Parse("redis://127.0.0.1:1/?topic=t&maxlen=10&retention=1h")
	if _, err := o.OpenTopic(ctx, u); err == nil || driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("maxlen and retention together: %v, want InvalidArgument", err)
	}
	if len(o.clients) != 0 {
		t.Errorf("failed opens left %d shared clients", len(o.clients))
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type serverErr string

func (e serverErr) Error() string { return string(e) }
func (serverErr) RedisError()     {}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want driver.ErrorCode
	}{
		{nil, driver.OK},
		{io.EOF, driver.Unavailable},
		{io.ErrUnexpectedEOF, driver.Unavailable},
		{syscall.ECONNREFUSED, driver.Unavailable},
		{syscall.ECONNRESET, driver.Unavailable},
		{timeoutErr{}, driver.Unavailable},
		{goredis.ErrPoolTimeout, driver.Unavailable},
		{goredis.ErrClosed, driver.Closed},
		{context.Canceled, driver.Canceled},
		{context.DeadlineExceeded, driver.DeadlineExceeded},
		{serverErr("NOGROUP No such key 'x' or consumer group 'g'"), driver.NotFound},
		{serverErr("ERR no such key"), driver.NotFound},
		{serverErr("BUSYGROUP Consumer Group name already exists"), driver.AlreadyExists},
		{serverErr("WRONGTYPE Operation against a key holding the wrong kind of value"), driver.FailedPrecondition},
		{serverErr("WRONGPASS invalid username-password pair or user is disabled."), driver.Unauthenticated},
		{serverErr("NOAUTH Authentication required."), driver.Unauthenticated},
		{serverErr("NOPERM this user has no permissions to run the 'xadd' command"), driver.PermissionDenied},
		{serverErr("OOM command not allowed when used memory > 'maxmemory'."), driver.ResourceExhausted},
		{serverErr("LOADING Redis is loading the dataset in memory"), driver.Unavailable},
		{serverErr("NOSCRIPT No matching script."), driver.Unavailable},
		{serverErr("ERR max number of clients reached"), driver.ResourceExhausted},
		{serverErr("ERR user_script:3: Script attempted to access nonexistent global variable"), driver.Internal},
		{errors.New("something else"), driver.Unknown},
		{&driver.Error{Code: driver.NotFound}, driver.NotFound},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestAckIDRoundTrip(t *testing.T) {
	for _, c := range []struct {
		attempt int
		retry   bool
		ms      int64
	}{{1, false, 0}, {7, true, 123456}, {1 << 19, false, 1 << 40}} {
		ref := "1-2"
		a := ackID(&ref, c.attempt, c.retry, c.ms)
		id, attempt, retry, ok := unpackID(a)
		if id != "1-2" || attempt != c.attempt || retry != c.retry || !ok || int64(a.Seq>>21) != c.ms {
			t.Errorf("%+v: got %q %d %v %v %d", c, id, attempt, retry, ok, a.Seq>>21)
		}
	}
	for _, ref := range []any{3, "1-2", (*string)(nil), nil} {
		if _, _, _, ok := unpackID(driver.AckID{Ref: ref}); ok {
			t.Errorf("a foreign AckID (Ref %#v) unpacked", ref)
		}
	}
}

func TestStreamIDOrder(t *testing.T) {
	a, _ := parseStreamID("10-5")
	b, _ := parseStreamID("9-50")
	c, _ := parseStreamID("10-40")
	if !b.less(a) || !a.less(c) || a.less(a) || a.String() != "10-5" {
		t.Errorf("order of 9-50, 10-5, 10-40 wrong")
	}
	if _, ok := parseStreamID("x-1"); ok {
		t.Error("parsed x-1")
	}
}

func TestLoopsAreSharedPerSubscription(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 10 * time.Millisecond})
	defer c.Close()
	cfg := reaperConfig{main: "p:t", retry: "p:t:retry:s", group: "s", lease: time.Hour, interval: time.Hour, log: logger(nil)}
	a := startReaper(c, cfg)
	b := startReaper(c, cfg)
	if a.l != b.l {
		t.Fatal("two handles of one subscription started two reapers")
	}
	other := cfg
	other.group = "s2"
	o := startReaper(c, other)
	if o.l == a.l {
		t.Fatal("two subscriptions share a reaper")
	}
	a.stop()
	a.stop() // twice: no effect
	select {
	case <-b.l.done:
		t.Fatal("the reaper stopped while a handle still uses it")
	default:
	}
	b.stop()
	<-b.l.done
	o.stop()
	<-o.l.done
	loopsMu.Lock()
	n := len(loops)
	loopsMu.Unlock()
	if n != 0 {
		t.Errorf("%d loops left", n)
	}
}

// FuzzParseURL checks that the URL parsers never panic and fail only with
// errors wrapping driver.ErrInvalidURL that do not repeat the password.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379/0?topic=orders&dedup=1m&maxlen=1000",
		"redis://u:s3cr3t-pw@h/2?topic=t&subscription=s&lease=5s&max_attempts=3&dead_letter=d&ordered=true&prefix=p",
		"rediss://:s3cr3t-pw@h?topic=t", "redis://h/x?topic=t", "redis://h/?topic=a:b", "redis:opaque",
		"redis://h/?topic=t#f", "redis://h/?topic=t&topic=u", "redis://h/?topic=t&bogus=1", "redis://[::1]/?topic=t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, allowed := range [][]string{topicParams, subParams, nil} {
			parse := func(u *url.URL) error { _, err := parseURL(u, allowed); return err }
			if testenv.CheckURLError(t, raw, u, parse) != nil {
				continue
			}
			q, _ := parseURL(u, allowed)
			if pw := q.opts.Password; len(pw) >= 4 && strings.Contains(q.redacted, ":"+pw+"@") {
				t.Fatalf("%q: the redacted form %q has the password", raw, q.redacted)
			}
			for _, k := range []string{"topic", "subscription"} {
				if _, ok := q.Query[k]; ok {
					testenv.CheckURLError(t, raw, u, func(u *url.URL) error {
						q, err := parseURL(u, allowed)
						if err != nil {
							return err
						}
						_, err = q.name(k)
						return err
					})
				}
			}
		}
	})
}

// TestBodySlabCopiesEachBodyApart checks that bodies handed out of a shared
// slab hold their bytes, cannot grow into the next one, and that a slab
// never exceeds slabBodies.
func TestBodySlabCopiesEachBodyApart(t *testing.T) {
	var bodies []string
	for i, n := range []int{0, 1, 1024, 1024, slabBodies/4 + 1, 7, slabBodies / 4, slabBodies / 4, slabBodies / 4, 3000, 0, 5} {
		bodies = append(bodies, strings.Repeat(string(rune('a'+i)), n))
	}
	total := 0
	for _, b := range bodies {
		total += len(b)
	}
	s := bodySlab{rest: total}
	got := make([][]byte, len(bodies))
	for i, b := range bodies {
		got[i] = s.copy(b)
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("body %d: cap %d, len %d: an append would overwrite the next body", i, cap(got[i]), len(got[i]))
		}
		if cap(s.buf) > slabBodies {
			t.Fatalf("body %d: a slab of %d bytes", i, cap(s.buf))
		}
	}
	for i, b := range bodies {
		if string(got[i]) != b {
			t.Errorf("body %d: got %d bytes %.8q, want %d bytes %.8q", i, len(got[i]), got[i], len(b), b)
		}
	}
	if s.rest != 0 {
		t.Errorf("rest %d after the last body", s.rest)
	}
}
