package sqs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
)

// tenv is one test's view of the server.
type tenv struct {
	t   testing.TB
	srv *sqstest.Server
	c   *awssqs.Client // a raw SDK client, for setting up and checking
}

func newEnv(t testing.TB) *tenv {
	t.Helper()
	srv := sqstest.Shared(t)
	return &tenv{t: t, srv: srv, c: awssqs.NewFromConfig(srv.Config(t))}
}

// name returns a queue name unique to the test.
func (e *tenv) name(suffix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	n := strings.ToLower(e.t.Name())
	n = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, n)
	if len(n) > 50 {
		n = n[:50]
	}
	return n + "-" + hex.EncodeToString(b[:]) + suffix
}

// queue creates a queue with attrs and deletes it when the test ends.
func (e *tenv) queue(name string, attrs map[string]string) string {
	e.t.Helper()
	out, err := e.c.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		e.t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	u := aws.ToString(out.QueueUrl)
	e.t.Cleanup(func() {
		_, _ = e.c.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)})
	})
	return u
}

// url returns sqs://QUEUE with the server's parameters and extra ones.
func (e *tenv) url(queue string, extra ...string) string {
	q := e.srv.Query()
	for _, x := range extra {
		q += "&" + x
	}
	return "sqs://" + queue + "?" + q
}

func (e *tenv) producer(queue string) *mq.Producer {
	e.t.Helper()
	p, err := mq.OpenProducer(context.Background(), e.url(queue))
	if err != nil {
		e.t.Fatalf("OpenProducer(%s): %v", queue, err)
	}
	e.t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func (e *tenv) sub(queue string, extra ...string) *mq.Subscription {
	e.t.Helper()
	if len(extra) == 0 {
		extra = []string{"wait=1s"}
	}
	s, err := mq.OpenSubscription(context.Background(), e.url(queue, extra...))
	if err != nil {
		e.t.Fatalf("OpenSubscription(%s): %v", queue, err)
	}
	e.t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// admin opens an admin of the server, closed when the test ends.
func (e *tenv) admin() *mq.Admin {
	e.t.Helper()
	a, err := mq.OpenAdmin(context.Background(), "sqs://?"+e.srv.Query())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = a.Close() })
	return a
}
