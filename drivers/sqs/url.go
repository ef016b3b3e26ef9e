package sqs

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// Scheme is the URL scheme the driver registers with mq.
const Scheme = "sqs"

func init() { mq.Register(Scheme, &URLOpener{}) }

// URLOpener opens sqs:// URLs (see the package doc). The zero value loads
// the AWS SDK's default configuration; register a URLOpener with Config
// set on your own mq.URLMux to use another.
type URLOpener struct {
	// Config, if not nil, is the base configuration of every handle; the
	// region and endpoint query parameters still apply, profile does not.
	// Its HTTP client, if any, is shared and never closed by the driver.
	Config *aws.Config
}

var (
	_ driver.Opener      = (*URLOpener)(nil)
	_ driver.AdminOpener = (*URLOpener)(nil)
)

// Query parameters beyond the connection ones.
const (
	paramOwner      = "owner"
	paramWait       = "wait"
	paramVisibility = "visibility"
)

var (
	topicParams = append([]string{paramOwner}, awsmq.ConnParams...)
	subParams   = append([]string{paramOwner, paramVisibility, paramWait}, awsmq.ConnParams...)
)

// OpenTopic implements driver.Opener for sqs://QUEUE?... .
func (o *URLOpener) OpenTopic(ctx context.Context, u *url.URL) (driver.Topic, error) {
	name, q, err := parseURL(u, topicParams)
	if err != nil {
		return nil, err
	}
	owner, err := ownerParam(q)
	if err != nil {
		return nil, err
	}
	client, conn, err := o.client(ctx, q)
	if err != nil {
		return nil, err
	}
	t, err := openTopic(ctx, client, name, &TopicOptions{Owner: owner}, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// OpenSubscription implements driver.Opener for sqs://QUEUE?... .
func (o *URLOpener) OpenSubscription(ctx context.Context, u *url.URL) (driver.Subscription, error) {
	name, q, err := parseURL(u, subParams)
	if err != nil {
		return nil, err
	}
	opts, err := SubscriptionOptionsFromQuery(q)
	if err != nil {
		return nil, err
	}
	client, conn, err := o.client(ctx, q)
	if err != nil {
		return nil, err
	}
	s, err := openSubscription(ctx, client, name, opts, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// SubscriptionOptionsFromQuery reads the owner, wait and visibility query
// parameters.
func SubscriptionOptionsFromQuery(q awsmq.Query) (*SubscriptionOptions, error) {
	owner, err := ownerParam(q)
	if err != nil {
		return nil, err
	}
	opts := &SubscriptionOptions{Owner: owner}
	if opts.Wait, err = q.Seconds(paramWait, time.Second, MaxWait, 0); err != nil {
		return nil, err
	}
	if opts.Visibility, err = q.Seconds(paramVisibility, time.Second, MaxVisibility, 0); err != nil {
		return nil, err
	}
	return opts, nil
}

// OpenAdmin implements driver.AdminOpener for sqs://?region=... (a host,
// if given, is ignored).
func (o *URLOpener) OpenAdmin(ctx context.Context, u *url.URL) (driver.Admin, error) {
	conn, err := awsmq.AdminConn(ctx, Scheme, u, o.Config)
	if err != nil {
		return nil, err
	}
	return &admin{c: awssqs.NewFromConfig(conn.Config), conn: conn}, nil
}

func (o *URLOpener) client(ctx context.Context, q awsmq.Query) (*awssqs.Client, *awsmq.Conn, error) {
	conn, err := q.Load(ctx, o.Config)
	if err != nil {
		return nil, nil, err
	}
	return awssqs.NewFromConfig(conn.Config), conn, nil
}

// parseURL returns the queue an sqs://QUEUE URL names and its query.
func parseURL(u *url.URL, allowed []string) (string, awsmq.Query, error) {
	if err := awsmq.CheckURL(Scheme, u); err != nil {
		return "", awsmq.Query{}, err
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		return "", awsmq.Query{}, awsmq.URLError(Scheme, "an sqs URL names a queue only: sqs://QUEUE (fan-out is sns://TOPIC/QUEUE)")
	}
	if !validQueueName(u.Host) {
		return "", awsmq.Query{}, awsmq.URLError(Scheme, "queue name "+quote(u.Host)+" must be 1 to 80 characters of A-Z a-z 0-9 _ -, ending in .fifo for a FIFO queue")
	}
	q, err := awsmq.ParseQuery(Scheme, u, allowed)
	if err != nil {
		return "", awsmq.Query{}, err
	}
	return u.Host, q, nil
}

func ownerParam(q awsmq.Query) (string, error) {
	v, ok := q.Get(paramOwner)
	if !ok {
		return "", nil
	}
	if len(v) != 12 || strings.Trim(v, "0123456789") != "" {
		return "", awsmq.URLError(Scheme, "parameter \"owner\": "+quote(v)+" is not a 12-digit AWS account ID")
	}
	return v, nil
}

// openError wraps an error of opening a queue so that mq classifies it by
// the driver's code (a missing queue is NotFound).
func openError(what string, err error) error {
	if _, ok := err.(*driver.Error); ok {
		return err
	}
	return &driver.Error{Code: awsmq.ErrorCode(err), Msg: "sqs: " + what, Err: err}
}
