package mq

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/portmq/portmq/mq/driver"
)

// nativeErr stands for a driver's native error type.
type nativeErr struct{ status int }

func (e *nativeErr) Error() string { return fmt.Sprintf("native status %d", e.status) }

// fakeCommon classifies nativeErr like a driver would.
type fakeCommon struct{}

func (fakeCommon) As(any) bool { return false }
func (fakeCommon) ErrorAs(err error, i any) bool {
	p, ok := i.(**nativeErr)
	if !ok {
		return false
	}
	return errors.As(err, p)
}
func (fakeCommon) ErrorCode(err error) ErrorCode {
	if ne, ok := errors.AsType[*nativeErr](err); ok && ne.status == 404 {
		return NotFound
	}
	return Unknown
}
func (fakeCommon) Close() error { return nil }

func TestCodeClassifiesEveryKindOfError(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want ErrorCode
	}{
		{"nil", nil, OK},
		{"plain", errors.New("x"), Unknown},
		{"canceled", context.Canceled, Canceled},
		{"deadline", fmt.Errorf("w: %w", context.DeadlineExceeded), DeadlineExceeded},
		{"unsupported", errors.ErrUnsupported, Unsupported},
		{"invalid URL", fmt.Errorf("bad: %w", driver.ErrInvalidURL), InvalidArgument},
		{"driver.Error", driver.NewError(ResourceExhausted, "quota"), ResourceExhausted},
		{"native via driver", wrapDriver(fakeCommon{}, "op", &nativeErr{404}), NotFound},
		{"native unknown", wrapDriver(fakeCommon{}, "op", &nativeErr{500}), Unknown},
		{"wrapped mq.Error", fmt.Errorf("ctx: %w", newError(Closed, "op", "", nil)), Closed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Code(tc.err); got != tc.want {
				t.Errorf("Code(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestSentinelsMatchByCodeAndNarrowSentinelsByKind(t *testing.T) {
	nf := wrapDriver(fakeCommon{}, "op", &nativeErr{404})
	if !errors.Is(nf, ErrNotFound) || errors.Is(nf, ErrClosed) {
		t.Errorf("NotFound error matches wrongly: %v", nf)
	}
	uns := newError(Unsupported, "op", "no", nil)
	if !errors.Is(uns, ErrUnsupported) || !errors.Is(uns, errors.ErrUnsupported) {
		t.Errorf("Unsupported error does not match both sentinels")
	}
	lease := wrapDriver(fakeCommon{}, "op", driver.ErrLeaseExpired())
	if !errors.Is(lease, ErrLeaseExpired) || errors.Is(lease, ErrSettled) || !errors.Is(lease, ErrFailedPrecondition) {
		t.Errorf("lease-expired error matches wrongly: %v", lease)
	}
	if errors.Is(newError(FailedPrecondition, "op", "x", nil), ErrSettled) {
		t.Error("a plain FailedPrecondition matches ErrSettled")
	}
	if errors.Is(nf, fs.ErrNotExist) {
		t.Error("matches an unrelated sentinel")
	}
}

func TestNativeErrorIsReachable(t *testing.T) {
	err := wrapDriver(fakeCommon{}, "mq.X", &nativeErr{404})
	var ne *nativeErr
	if !errors.As(err, &ne) || ne.status != 404 {
		t.Fatalf("errors.As did not reach the native error: %v", err)
	}
	ne = nil
	if !errorAs(fakeCommon{}, err, &ne) || ne.status != 404 {
		t.Fatal("ErrorAs did not reach the native error")
	}
}

func TestIsRetryable(t *testing.T) {
	for code, want := range map[ErrorCode]bool{Unavailable: true, ResourceExhausted: true, DeadlineExceeded: true, NotFound: false, InvalidArgument: false, Closed: false} {
		if got := IsRetryable(newError(code, "op", "", nil)); got != want {
			t.Errorf("IsRetryable(%v) = %v, want %v", code, got, want)
		}
	}
}

func TestErrorTextHasOpMessageAndCause(t *testing.T) {
	err := newError(NotFound, "mq.OpenProducer", "open mem://x", errors.New("no topic"))
	if got, want := err.Error(), "mq.OpenProducer: open mem://x: no topic"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := newError(Closed, "op", "", nil).Error(); got != "op: Closed" {
		t.Errorf("got %q", got)
	}
}

func TestRedactRawRemovesUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"amqp://u:pw@bad host/%zz": "amqp://xxxxx@bad host/%zz",
		"amqp://u:pa#ss@h/%zz":     "amqp://xxxxx@h/%zz", // found by FuzzOpenURL: '#' in the password
		"://:#000@":                "://xxxxx@",
		"amqp://u:p/w?x@h":         "amqp://xxxxx@h",
		"mem://x/%zz":              "mem://x/%zz",
		"no scheme":                "no scheme",
	} {
		if got := redactRaw(in); got != want {
			t.Errorf("redactRaw(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownSchemeNamesThePackageToImport(t *testing.T) {
	mux := new(URLMux)
	for _, c := range []struct{ url, want string }{
		{"amqp://guest:secret@h/x", `import _ "github.com/portmq/portmq/drivers/rabbitmq"`},
		{"kafka://h:9092/t", `import _ "github.com/portmq/portmq/drivers/kafka"`},
		{"gocloud+mem://t", `import _ "github.com/portmq/portmq/drivers/gocloud"`},
		{"mem://t", `import _ "github.com/portmq/portmq/memdriver"`},
		{"nosuch://t", ""},
	} {
		_, err := mux.OpenProducer(context.Background(), c.url)
		if Code(err) != NotFound {
			t.Fatalf("%s: code %v, want NotFound (%v)", c.url, Code(err), err)
		}
		msg := err.Error()
		if strings.Contains(msg, "secret") {
			t.Errorf("%s: password in error %q", c.url, msg)
		}
		if c.want == "" && strings.Contains(msg, "import _") {
			t.Errorf("%s: suggests an import for a scheme portmq has no driver for: %q", c.url, msg)
		}
		if c.want != "" && !strings.Contains(msg, c.want) {
			t.Errorf("%s: error %q does not say %s", c.url, msg, c.want)
		}
	}
}

func TestRedactURLHidesSecretsInUserinfoAndQuery(t *testing.T) {
	for _, raw := range []string{
		"amqp://guest:hunter2@h/x",
		"sqs://q?endpoint=http%3A%2F%2Fuser%3Ahunter2%40127.0.0.1%3A1",
		"kafka://b:9092/t?sasl_password=hunter2&subscription=g",
		"gcppubsub://projects/p/topics/t?token=hunter2",
		"x://h/p?endpoint=user:hunter2@host",
		"x://?:hunter2@", // the password's tail is a query name (FuzzOpenURL)
		"x://h?a:hunter2@=1&b=2",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := redactURL(u)
		if strings.Contains(got, "hunter2") {
			t.Errorf("redactURL(%q) = %q keeps the secret", raw, got)
		}
		_, err = new(URLMux).OpenProducer(context.Background(), raw)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("open %q: error %v keeps the secret", raw, err)
		}
	}
	u, _ := url.Parse("kafka://b:9092/t?subscription=g&mode=share")
	if got := redactURL(u); got != u.String() {
		t.Errorf("redactURL changed a URL without secrets: %q", got)
	}
}
