package sqs

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/portmq/portmq/drivers/sqs/awsmq"
	"github.com/portmq/portmq/drivers/sqs/sqstest"
	"github.com/portmq/portmq/mq/driver"
)

// rawQueue returns a client of the test server and a fresh queue's URL.
func rawQueue(t *testing.T, name string) (*sqstest.Server, *awssqs.Client, string) {
	t.Helper()
	srv := sqstest.Shared(t)
	ctx := context.Background()
	c := awssqs.NewFromConfig(srv.Config(t))
	name += "-" + awsmq.NewID()[:8]
	out, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	u := aws.ToString(out.QueueUrl)
	t.Cleanup(func() { _, _ = c.DeleteQueue(context.Background(), &awssqs.DeleteQueueInput{QueueUrl: aws.String(u)}) })
	return srv, c, u
}

// TestSendReportsEachEntry has one entry of a batch fail and checks that
// the others were sent and the failure is that entry's. moto cannot do it
// (its failed entries carry SenderFault as a string, which the SDK
// rejects), so a fake endpoint answers SendMessageBatch.
func TestSendReportsEachEntry(t *testing.T) {
	t.Parallel()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Entries []struct{ Id, MessageBody string }
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		type ok struct{ Id, MessageId, MD5OfMessageBody string }
		type failed struct {
			Id, Code, Message string
			SenderFault       bool
		}
		var out struct {
			Successful []ok
			Failed     []failed
		}
		for _, e := range in.Entries {
			if e.MessageBody == "poison" {
				out.Failed = append(out.Failed, failed{e.Id, "InvalidMessageContents", "no poison", true})
				continue
			}
			sum := md5.Sum([]byte(e.MessageBody))
			out.Successful = append(out.Successful, ok{e.Id, "id-" + e.MessageBody, hex.EncodeToString(sum[:])})
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer fake.Close()
	c := awssqs.New(awssqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fake.URL),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   fake.Client(),
	})
	tp := &topic{c: c, q: &queue{url: fake.URL + "/123456789012/q", name: "q"}, target: awsmq.Target{MaxSize: 1 << 20}}
	msgs := []driver.Message{{Body: []byte("a")}, {Body: []byte("poison")}, {Body: []byte("c")}}
	err := tp.SendBatch(context.Background(), msgs)
	var batch *driver.BatchError
	if !errors.As(err, &batch) || batch.Errs[0] != nil || batch.Errs[2] != nil || batch.Errs[1] == nil {
		t.Fatalf("SendBatch = %v, want a *driver.BatchError failing only the second message", err)
	}
	var be *awsmq.BatchEntryError
	if !errors.As(batch.Errs[1], &be) || be.Code != "InvalidMessageContents" || awsmq.ErrorCode(batch.Errs[1]) != driver.InvalidArgument {
		t.Errorf("error of the failed entry: %v (code %v)", batch.Errs[1], awsmq.ErrorCode(batch.Errs[1]))
	}
	if msgs[0].ID != "id-a" || msgs[2].ID != "id-c" || msgs[1].ID != "" {
		t.Errorf("IDs %q %q %q", msgs[0].ID, msgs[1].ID, msgs[2].ID)
	}
	fake.CloseClientConnections()
}

// TestAckReportsEachEntry acks 8 deliveries and two receipts SQS does not
// know in one call (one batch request: mq splits calls by MaxBatch): the 8
// are deleted, the unknown ones fail with ErrLeaseExpired. A call of more
// than MaxBatch IDs fails each with InvalidArgument.
func TestAckReportsEachEntry(t *testing.T) {
	t.Parallel()
	_, c, u := rawQueue(t, "ack-entries")
	ctx := context.Background()
	const n = 8
	for i := range n {
		if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(u), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := openSubscription(ctx, c, u, &SubscriptionOptions{Wait: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []driver.AckID
	for len(ids) < n {
		dst := make([]driver.Message, n)
		k, err := s.ReceiveBatch(ctx, dst)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range dst[:k] {
			ids = append(ids, m.AckID)
		}
	}
	if err := s.Ack(ctx, append(ids[:n:n], ids[:3]...)); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("Ack of %d IDs = %v, want InvalidArgument", n+3, err)
	}
	// Two receipts SQS does not know.
	bogus := func() driver.AckID {
		r := &receipt{sub: s, msg: &sqstypes.Message{ReceiptHandle: aws.String("bogus-" + awsmq.NewID())}, received: time.Now()}
		r.deadline.Store(time.Now().Add(time.Minute).UnixNano())
		return driver.AckID{Ref: r}
	}
	unknown := map[int]bool{2: true, 7: true}
	ids = append(ids[:2], append([]driver.AckID{bogus()}, ids[2:]...)...)
	ids = append(ids[:7], append([]driver.AckID{bogus()}, ids[7:]...)...)
	err = s.Ack(ctx, ids)
	var batch *driver.BatchError
	if !errors.As(err, &batch) || len(batch.Errs) != n+2 {
		t.Fatalf("Ack = %v, want a *driver.BatchError of %d items", err, n+2)
	}
	for i, e := range batch.Errs {
		var de *driver.Error
		switch {
		case unknown[i] && (!errors.As(e, &de) || de.Code != driver.FailedPrecondition || de.Msg != driver.MsgLeaseExpired):
			t.Errorf("error of unknown receipt %d: %v, want driver.ErrLeaseExpired", i, e)
		case !unknown[i] && e != nil:
			t.Errorf("item %d: %v", i, e)
		}
	}
	if err := s.Ack(ctx, ids[:1]); driver.CodeOf(err) != driver.FailedPrecondition {
		t.Errorf("second Ack = %v, want FailedPrecondition", err)
	}
	out, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(u), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Attributes["ApproximateNumberOfMessages"] != "0" || out.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Errorf("the acked messages are still in the queue: %v", out.Attributes)
	}
}

// fakeSub is a subscription with no client: calls that would reach SQS
// panic, so these tests prove that refusals happen locally.
func fakeSub() *subscription {
	return &subscription{q: &queue{name: "q"}, out: map[*receipt]struct{}{}, lease: time.Minute}
}

func TestStaleReceiptsAreRefusedLocally(t *testing.T) {
	t.Parallel()
	s, other := fakeSub(), fakeSub()
	now := time.Now()
	expired := &receipt{sub: s, received: now.Add(-2 * time.Minute)}
	expired.deadline.Store(now.Add(-time.Minute).UnixNano())
	settled := &receipt{sub: s, received: now}
	settled.deadline.Store(now.Add(time.Minute).UnixNano())
	settled.settled.Store(true)
	foreign := &receipt{sub: other, received: now}
	foreign.deadline.Store(now.Add(time.Minute).UnixNano())
	ids := []driver.AckID{{Ref: expired}, {Ref: settled}, {Ref: foreign}, {Ref: "not a receipt"}, {}}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"Ack":    func() error { return s.Ack(ctx, ids) },
		"Nack":   func() error { return s.Nack(ctx, ids, time.Second) },
		"Extend": func() error { return s.Extend(ctx, ids, time.Minute) },
		"DeadLetter": func() error {
			return s.DeadLetter(ctx, []driver.DeadLetter{{AckID: ids[0]}, {AckID: ids[1]}, {AckID: ids[2]}})
		},
	} {
		err := call()
		var batch *driver.BatchError
		if errors.As(err, &batch) {
			for i, e := range batch.Errs {
				if de := (*driver.Error)(nil); !errors.As(e, &de) || de.Msg != driver.MsgLeaseExpired {
					t.Errorf("%s: item %d: %v, want ErrLeaseExpired", name, i, e)
				}
			}
			continue
		}
		if de := (*driver.Error)(nil); !errors.As(err, &de) || de.Msg != driver.MsgLeaseExpired {
			t.Errorf("%s: %v, want ErrLeaseExpired for every item", name, err)
		}
	}
}

func TestNoExtensionBeyondTwelveHours(t *testing.T) {
	t.Parallel()
	s := fakeSub()
	now := time.Now()
	old := &receipt{sub: s, received: now.Add(-MaxVisibility + time.Minute)}
	old.deadline.Store(now.Add(30 * time.Second).UnixNano())
	ids := []driver.AckID{{Ref: old}}
	ctx := context.Background()
	if err := s.Extend(ctx, ids, 2*time.Minute); driver.CodeOf(err) != driver.FailedPrecondition {
		t.Errorf("Extend past 12 h after receipt: %v, want FailedPrecondition", err)
	}
	if err := s.Nack(ctx, ids, 2*time.Minute); driver.CodeOf(err) != driver.FailedPrecondition {
		t.Errorf("Nack with a delay past 12 h after receipt: %v, want FailedPrecondition", err)
	}
	if err := s.Extend(ctx, ids, 13*time.Hour); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("Extend(13h): %v, want InvalidArgument", err)
	}
	if err := s.Nack(ctx, ids, -time.Second); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("Nack(-1s): %v, want InvalidArgument", err)
	}
}

func TestClosedHandlesRefuseCalls(t *testing.T) {
	t.Parallel()
	s := fakeSub()
	s.pollCtx, s.stopPoll = context.WithCancel(context.Background())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := s.ReceiveBatch(ctx, make([]driver.Message, 1)); driver.CodeOf(err) != driver.Closed {
		t.Errorf("ReceiveBatch after Close: %v", err)
	}
	if err := s.Ack(ctx, nil); driver.CodeOf(err) != driver.Closed {
		t.Errorf("Ack after Close: %v", err)
	}
	tp := &topic{}
	_ = tp.Close()
	if err := tp.SendBatch(ctx, []driver.Message{{Body: []byte("x")}}); driver.CodeOf(err) != driver.Closed {
		t.Errorf("SendBatch after Close: %v", err)
	}
}

func TestLeaseEndCountsFromTheResponse(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		took, lease, want time.Duration // want: lease end after the response
	}{
		{20 * time.Millisecond, 30 * time.Second, 30*time.Second - 20*time.Millisecond},
		{19 * time.Second, 30 * time.Second, 29 * time.Second}, // a long poll: at most 1 s of margin
		{900 * time.Millisecond, time.Second, 750 * time.Millisecond},
	}
	for _, c := range cases {
		end := start.Add(c.took)
		if got := leaseEnd(start, end, c.lease).Sub(end); got != c.want {
			t.Errorf("request of %v, lease %v: lease ends %v after the response, want %v", c.took, c.lease, got, c.want)
		}
	}
}
