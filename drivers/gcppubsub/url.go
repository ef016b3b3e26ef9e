package gcppubsub

import (
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"context"
	"fmt"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Scheme is the URL scheme the package registers with mq.
const Scheme = "gcppubsub"

func init() { mq.Register(Scheme, new(URLOpener)) }

// URLOpener opens gcppubsub:// URLs (see the package doc). The zero value
// is what the package registers: clients that honour PUBSUB_EMULATOR_HOST
// and otherwise use Application Default Credentials. Register an opener of
// your own on your own mq.URLMux to pass client options. Handles of one
// project share one *pubsub.Client, closed when the last handle closes.
type URLOpener struct {
	// ClientOptions are passed to pubsub.NewClient (for example
	// option.WithCredentialsFile or option.WithEndpoint).
	ClientOptions []option.ClientOption
	// Topic and Subscription are the options of the handles opened;
	// URL parameters override them.
	Topic        TopicOptions
	Subscription SubscriptionOptions

	mu      sync.Mutex
	clients map[string]*pooledClient
}

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

type pooledClient struct {
	c    *pubsub.Client
	refs int
}

// client returns the shared client of project and the function that gives
// it back.
func (o *URLOpener) client(ctx context.Context, project string) (*pubsub.Client, func(), error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	pc := o.clients[project]
	if pc == nil {
		c, err := pubsub.NewClientWithConfig(ctx, project, clientConfig(), o.ClientOptions...)
		if err != nil {
			// Finding or loading the credentials failed (the client does
			// not dial yet). The cause names no secret; see
			// TestCredentialsNeverAppearInErrors.
			return nil, nil, &driver.Error{Code: driver.Unauthenticated, Msg: "gcppubsub: create a client for project " + project, Err: err}
		}
		if o.clients == nil {
			o.clients = make(map[string]*pooledClient)
		}
		pc = &pooledClient{c: c}
		o.clients[project] = pc
	}
	pc.refs++
	var once sync.Once
	return pc.c, func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if pc.refs--; pc.refs == 0 {
				delete(o.clients, project)
				_ = pc.c.Close()
			}
		})
	}, nil
}

var (
	topicParams = []string{"batch_delay"}
	subParams   = []string{"ack_deadline", "dead_letter", "max_attempts", "ordered"}
)

// OpenTopic opens gcppubsub://projects/P/topics/T (or gcppubsub://P/T).
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	project, id, q, err := parseURL(u, kindTopic, topicParams)
	if err != nil {
		return nil, err
	}
	opts := o.Topic
	if d, err := q.Duration(Scheme, "batch_delay"); err != nil {
		return nil, err
	} else if q.Has("batch_delay") {
		ps := pubsub.DefaultPublishSettings
		if opts.PublishSettings != nil {
			ps = *opts.PublishSettings
		}
		ps.DelayThreshold = d
		opts.PublishSettings = &ps
	}
	return withClient(o, ctx, project, func(c *pubsub.Client, release func()) (driver.Topic, error) {
		return newTopic(c, fullName(project, kindTopic, id), &opts, release)
	})
}

// OpenSubscription opens gcppubsub://projects/P/subscriptions/S (or
// gcppubsub://P/S).
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	project, id, q, err := parseURL(u, kindSubscription, subParams)
	if err != nil {
		return nil, err
	}
	opts := o.Subscription
	if d, err := q.DurationIn(Scheme, "ack_deadline", time.Second, maxAckDeadline); err != nil {
		return nil, err
	} else if d > 0 {
		opts.AckDeadline = d
	}
	if n, err := q.IntIn(Scheme, "max_attempts", 0, maxPolicyAttempts); err != nil {
		return nil, err
	} else if q.Has("max_attempts") {
		opts.MaxAttempts = n
	}
	if v, ok := q["dead_letter"]; ok {
		if _, err := resolveName(project, kindTopic, v); err != nil {
			return nil, urlError("parameter \"dead_letter\": %v", err)
		}
		opts.DeadLetterTopic = v
	}
	if b, err := q.Bool(Scheme, "ordered"); err != nil {
		return nil, err
	} else if q.Has("ordered") {
		opts.Ordered = b
	}
	return withClient(o, ctx, project, func(c *pubsub.Client, release func()) (driver.Subscription, error) {
		return newSubscription(ctx, c, fullName(project, kindSubscription, id), &opts, release)
	})
}

// OpenAdmin opens gcppubsub://projects/P (or gcppubsub://P); it takes no
// parameters.
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	project, err := parseProject(u)
	if err != nil {
		return nil, err
	}
	if _, err := driver.ParseQuery(Scheme, u); err != nil {
		return nil, err
	}
	return withClient(o, ctx, project, func(c *pubsub.Client, release func()) (driver.Admin, error) {
		return newAdmin(c, release), nil
	})
}

// withClient opens a handle with the shared client of project, which the
// handle gives back on Close (or here, if opening fails).
func withClient[T any](o *URLOpener, ctx context.Context, project string, open func(c *pubsub.Client, release func()) (T, error)) (T, error) {
	c, release, err := o.client(ctx, project)
	if err != nil {
		var zero T
		return zero, err
	}
	h, err := open(c, release)
	if err != nil {
		release()
	}
	return h, err
}

func urlError(format string, args ...any) error {
	return driver.QueryError(Scheme, fmt.Sprintf(format, args...))
}

// checkURL rejects what no gcppubsub URL has. The userinfo is never
// echoed: it may hold a password.
func checkURL(u *url.URL) error {
	switch {
	case u == nil:
		return urlError("nil URL")
	case u.User != nil:
		return urlError("gcppubsub URLs take no user info: credentials come from Application Default Credentials or the opener's client options")
	case u.Opaque != "":
		return urlError("want gcppubsub://projects/PROJECT/...")
	case u.Fragment != "":
		return urlError("gcppubsub URLs take no fragment")
	}
	return nil
}

// parseURL returns the project, ID and query parameters of a topic or
// subscription URL.
func parseURL(u *url.URL, kind string, allowed []string) (project, id string, q driver.Query, err error) {
	if project, id, err = parseResource(u, kind); err != nil {
		return "", "", nil, err
	}
	if q, err = driver.ParseQuery(Scheme, u, allowed...); err != nil {
		return "", "", nil, err
	}
	return project, id, q, nil
}

// parseResource returns the project and the ID of the topic or
// subscription a URL names, in the full form
// gcppubsub://projects/P/KIND/ID or the short form gcppubsub://P/ID.
func parseResource(u *url.URL, kind string) (project, id string, err error) {
	if err := checkURL(u); err != nil {
		return "", "", err
	}
	what := strings.TrimSuffix(kind, "s")
	want := "want gcppubsub://projects/PROJECT/" + kind + "/ID or gcppubsub://PROJECT/ID"
	path := strings.Trim(u.Path, "/")
	segs := strings.Split(path, "/")
	switch {
	case u.Host == "":
		return "", "", urlError("missing project: %s", want)
	case u.Host == "projects" && len(segs) == 3:
		if segs[1] != kind {
			return "", "", urlError("a %s URL names projects/PROJECT/%s/ID, not %s", what, kind, segs[1])
		}
		project, id = segs[0], segs[2]
	case len(segs) == 1 && segs[0] != "":
		project, id = u.Host, segs[0]
	default:
		return "", "", urlError("%s", want)
	}
	if !validProject(project) {
		return "", "", urlError("project %s is not a valid project ID", strconv.Quote(project))
	}
	if err := checkID(what, id); err != nil {
		return "", "", urlError("%v", err)
	}
	return project, id, nil
}

// parseProject returns the project of an admin URL: gcppubsub://projects/P
// or gcppubsub://P.
func parseProject(u *url.URL) (string, error) {
	if err := checkURL(u); err != nil {
		return "", err
	}
	path := strings.Trim(u.Path, "/")
	var project string
	switch {
	case u.Host == "projects" && path != "" && !strings.Contains(path, "/"):
		project = path
	case u.Host != "" && path == "":
		project = u.Host
	default:
		return "", urlError("an admin URL names a project: gcppubsub://projects/PROJECT or gcppubsub://PROJECT")
	}
	if !validProject(project) {
		return "", urlError("project %s is not a valid project ID", strconv.Quote(project))
	}
	return project, nil
}

// clientConfig keeps the client's own retries of a Publish (it retries
// Unavailable and DeadlineExceeded) from backing off to a minute: its
// default multiplies the pause by 4 up to 60 s, so a publish that met a
// 6 s outage next tries after 25 s. Doubling to 2 s, as mq does when it
// waits out an outage, lets sends resume within about 2 s of the backend.
func clientConfig() *pubsub.ClientConfig {
	return &pubsub.ClientConfig{TopicAdminCallOptions: &vkit.TopicAdminCallOptions{
		Publish: []gax.CallOption{gax.WithRetry(func() gax.Retryer {
			return gax.OnCodes([]codes.Code{
				codes.Aborted, codes.Canceled, codes.Internal, codes.ResourceExhausted,
				codes.Unknown, codes.Unavailable, codes.DeadlineExceeded,
			}, gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2})
		})},
	}}
}
