package sns

import (
	"context"
	"net/url"
	"strings"

	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Scheme is the URL scheme the driver registers with mq.
const Scheme = "sns"

func init() { mq.Register(Scheme, &URLOpener{}) }

// URLOpener opens sns:// URLs (see the package doc). Its zero value,
// and its Config, are those of sqs.URLOpener.
type URLOpener sqs.URLOpener

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

var subParams = append([]string{"owner", "visibility", "wait"}, awsmq.ConnParams...)

// OpenTopic implements driver.Opener for sns://TOPIC?... .
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	topic, queue, q, err := parseURL(u, awsmq.ConnParams)
	if err != nil {
		return nil, err
	}
	if queue != "" {
		return nil, awsmq.URLError(Scheme, "a producer URL names a topic only: sns://TOPIC (sns://TOPIC/QUEUE is a subscription)")
	}
	conn, err := o.conn(ctx, q)
	if err != nil {
		return nil, err
	}
	t, err := openTopic(ctx, awssns.NewFromConfig(conn.Config), topic, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// OpenSubscription implements driver.Opener for sns://TOPIC/QUEUE?... .
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	topic, queue, q, err := parseURL(u, subParams)
	if err != nil {
		return nil, err
	}
	if queue == "" {
		return nil, awsmq.URLError(Scheme, "a subscription URL names a topic and the SQS queue subscribed to it: sns://TOPIC/QUEUE")
	}
	opts, err := sqs.SubscriptionOptionsFromQuery(q)
	if err != nil {
		return nil, err
	}
	conn, err := o.conn(ctx, q)
	if err != nil {
		return nil, err
	}
	s, err := openSubscription(ctx, awssns.NewFromConfig(conn.Config), awssqs.NewFromConfig(conn.Config), topic, queue, opts, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// OpenAdmin implements driver.AdminOpener for sns://?region=... (a host,
// if given, is ignored).
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	conn, err := awsmq.AdminConn(ctx, Scheme, u, o.Config)
	if err != nil {
		return nil, err
	}
	a := NewAdmin(awssns.NewFromConfig(conn.Config), awssqs.NewFromConfig(conn.Config)).(*admin)
	a.conn = conn
	return a, nil
}

func (o *URLOpener) conn(ctx context.Context, q awsmq.Query) (*awsmq.Conn, error) {
	return q.Load(ctx, o.Config)
}

// parseURL returns the topic and queue of sns://TOPIC[/QUEUE] and the
// query.
func parseURL(u *url.URL, allowed []string) (topic, queue string, q awsmq.Query, err error) {
	if err := awsmq.CheckURL(Scheme, u); err != nil {
		return "", "", q, err
	}
	if !validTopicName(u.Host) {
		return "", "", q, awsmq.URLError(Scheme, "topic name "+quote(u.Host)+" must be 1 to 256 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO topic")
	}
	queue = strings.TrimPrefix(u.Path, "/")
	if queue != "" && !validQueueName(queue) {
		return "", "", q, awsmq.URLError(Scheme, "queue name "+quote(queue)+" must be 1 to 80 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO queue")
	}
	q, err = awsmq.ParseQuery(Scheme, u, allowed)
	return u.Host, queue, q, err
}

// validQueueName reports whether s is a valid SQS queue name.
func validQueueName(s string) bool { return awsmq.ValidName(s, 80) }
