package sqs_test

import (
	"bytes"
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs"
	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq"
)

const (
	benchBody  = 256 // bytes of text per message
	benchRound = 100 // messages per round of each side
	benchMin   = 500 // messages of each side at least, for stable rates
)

// BenchmarkVersusRaw runs the same work through the raw AWS SDK and
// through portmq against one endpoint (moto, or PORTMQ_TEST_SQS_ENDPOINT)
// in this process, and reports both rates and their ratio (portmq ÷ raw).
// One op is one message on each side: send in batches of 10
// (SendMessageBatch), then receive 10 at a time (ReceiveMessage asking for
// the same attributes) and delete what was received in one batch
// (DeleteMessageBatch). portmq (the driver's plain constructors, on an
// SDK client of its own) sends with Producer.SendBatch, receives with
// Subscription.ReceiveBatch(ctx, 10) and acks what it received with one
// Subscription.AckBatch. raw-reqs/msg and portmq-reqs/msg count the HTTP
// requests per message of each side, which should be equal. Bodies are
// 256 bytes of text. The two sides take turns in rounds of 100 messages
// on queues of their own, each going first in every other round, so that
// the load of a shared machine weighs on both alike; each side moves at
// least 500 messages whatever b.N, so that one run has several rounds
// (ns/op is then not meaningful; the rates are).
func BenchmarkVersusRaw(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	rawC, rawReqs := countingClient(b, e.srv)
	pmC, pmReqs := countingClient(b, e.srv)
	rawURL := e.queue(e.name("-raw"), nil)
	pmURL := e.queue(e.name("-portmq"), nil)
	dt, err := sqs.OpenTopic(ctx, pmC, pmURL, nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(ctx)
	ds, err := sqs.OpenSubscription(ctx, pmC, pmURL, &sqs.SubscriptionOptions{Wait: time.Second, Visibility: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	s, err := mq.NewSubscription(ds)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(ctx)
	rawReqs.Store(0)
	pmReqs.Store(0)
	body := bytes.Repeat([]byte("0123456789abcdef"), benchBody/16)

	b.ReportAllocs()
	b.ResetTimer()
	var raw, pm time.Duration
	total := max(b.N, benchMin)
	for round, done := 0, 0; done < total; round, done = round+1, done+benchRound {
		n := min(benchRound, total-done)
		if round%2 == 0 {
			raw += benchRaw(b, rawC, rawURL, body, n)
			pm += benchPortmq(b, p, s, body, n)
		} else {
			pm += benchPortmq(b, p, s, body, n)
			raw += benchRaw(b, rawC, rawURL, body, n)
		}
	}
	b.StopTimer()
	rawRate, pmRate := float64(total)/raw.Seconds(), float64(total)/pm.Seconds()
	b.ReportMetric(rawRate, "raw-msgs/s")
	b.ReportMetric(pmRate, "portmq-msgs/s")
	b.ReportMetric(pmRate/rawRate, "ratio")
	b.ReportMetric(float64(rawReqs.Load())/float64(total), "raw-reqs/msg")
	b.ReportMetric(float64(pmReqs.Load())/float64(total), "portmq-reqs/msg")
}

// countingClient returns an SDK client of the server that counts its HTTP
// requests.
func countingClient(b *testing.B, srv *sqstest.Server) (*awssqs.Client, *atomic.Int64) {
	cfg := srv.Config(b)
	n := new(atomic.Int64)
	inner := cfg.HTTPClient.(*http.Client)
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return inner.Transport.RoundTrip(r)
	})}
	return awssqs.NewFromConfig(cfg), n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func benchRaw(b *testing.B, c *awssqs.Client, url string, body []byte, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, awsmq.MaxBatch)
	for sent := 0; sent < n; {
		entries = entries[:0]
		for ; len(entries) < awsmq.MaxBatch && sent < n; sent++ {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: awsmq.BatchIDs[len(entries)], MessageBody: aws.String(string(body))})
		}
		out, err := c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			b.Fatalf("SendMessageBatch: %v %v", err, out)
		}
	}
	for got := 0; got < n; {
		out, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         awsmq.MaxBatch,
			WaitTimeSeconds:             1,
			VisibilityTimeout:           30,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: awsmq.SystemAttributes,
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Messages) == 0 {
			continue
		}
		del := make([]sqstypes.DeleteMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			del[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: awsmq.BatchIDs[i], ReceiptHandle: m.ReceiptHandle}
		}
		dout, err := c.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del})
		if err != nil || len(dout.Failed) > 0 {
			b.Fatalf("DeleteMessageBatch: %v %v", err, dout)
		}
		got += len(out.Messages)
	}
	return time.Since(start)
}

func benchPortmq(b *testing.B, p *mq.Producer, s *mq.Subscription, body []byte, n int) time.Duration {
	ctx := context.Background()
	start := time.Now()
	batch := make([]*mq.Message, 0, awsmq.MaxBatch)
	for sent := 0; sent < n; {
		batch = batch[:0]
		for ; len(batch) < awsmq.MaxBatch && sent < n; sent++ {
			batch = append(batch, &mq.Message{Body: body})
		}
		if err := p.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for got := 0; got < n; {
		ds, err := s.ReceiveBatch(ctx, awsmq.MaxBatch)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.AckBatch(ds); err != nil {
			b.Fatal(err)
		}
		got += len(ds)
	}
	return time.Since(start)
}
