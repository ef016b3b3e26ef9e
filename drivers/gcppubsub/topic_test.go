package gcppubsub

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portmq/portmq/mq"
	"github.com/portmq/portmq/mq/driver"
)

// failPublish is a pstest reactor that fails the next publish of one
// ordering key, after waiting for release if it is set.
type failPublish struct {
	key     string
	mu      sync.Mutex
	pending int
	release chan struct{}
}

func (r *failPublish) React(req any) (bool, any, error) {
	pr, ok := req.(*pb.PublishRequest)
	if !ok || len(pr.Messages) == 0 || pr.Messages[0].OrderingKey != r.key {
		return false, nil, nil
	}
	r.mu.Lock()
	fail := r.pending > 0
	if fail {
		r.pending--
	}
	r.mu.Unlock()
	if !fail {
		return false, nil, nil
	}
	if r.release != nil {
		<-r.release
	}
	return true, nil, status.Error(codes.InvalidArgument, "injected publish failure")
}

func (r *failPublish) failNext() {
	r.mu.Lock()
	r.pending++
	r.mu.Unlock()
}

func TestFailedPublishDoesNotWedgeItsKey(t *testing.T) {
	rx := &failPublish{key: "wedge"}
	f := newFake(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: rx})
	f.topic("keys")
	s := f.sub(f.subscription("keys", "keys-sub", mq.SubscriptionConfig{Ordered: true}))
	p := f.producer("gcppubsub://" + testProject + "/keys")

	rx.failNext()
	err := p.Send(f.ctx(), &mq.Message{Body: []byte("lost"), Key: "wedge"})
	if mq.Code(err) != mq.InvalidArgument {
		t.Fatalf("Send with an injected failure: %v, want InvalidArgument", err)
	}
	// The client paused the key; the driver must have resumed it.
	m := f.send(p, &mq.Message{Body: []byte("after"), Key: "wedge"})
	if d := f.recv(s, 5*time.Second); d.ID != m.ID || d.Key != "wedge" {
		t.Errorf("received %q (key %q), want the message sent after the failure", d.Body, d.Key)
	} else if err := d.Ack(); err != nil {
		t.Error(err)
	}
}

func TestAbandonedFailedPublishDoesNotWedgeItsKey(t *testing.T) {
	rx := &failPublish{key: "late", release: make(chan struct{})}
	f := newFake(t, pstest.ServerReactorOption{FuncName: "Publish", Reactor: rx})
	f.topic("late-keys")
	dt, err := OpenTopic(f.client, "late-keys", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mq.NewProducer(dt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	rx.failNext()
	ctx, cancel := context.WithTimeout(f.ctx(), 100*time.Millisecond)
	err = p.Send(ctx, &mq.Message{Body: []byte("abandoned"), Key: "late"})
	cancel()
	if mq.Code(err) != mq.DeadlineExceeded {
		t.Fatalf("Send whose publish hangs: %v, want DeadlineExceeded", err)
	}
	close(rx.release) // the publish now fails
	dt.(*topic).resumes.Wait()
	// Without the watcher the key would stay paused and this Send fail.
	if err := p.Send(f.ctx(), &mq.Message{Body: []byte("next"), Key: "late"}); err != nil {
		t.Errorf("Send on the key after an abandoned failed publish: %v", err)
	}
}

func TestMessagesBeyondPubSubLimitsFailBeforeSending(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("limits"))
	cases := map[string]*mq.Message{
		"1025-byte attribute value": {Body: []byte("x"), Attributes: map[string]string{"k": strings.Repeat("v", 1025)}},
		"goog attribute key":        {Body: []byte("x"), Attributes: map[string]string{"googclient_x": "v"}},
		"GOOG attribute key":        {Body: []byte("x"), Attributes: map[string]string{"GOOGx": "v"}},
	}
	for name, m := range cases {
		err := p.SendBatch(f.ctx(), []*mq.Message{{Body: []byte("good")}, m})
		if mq.Code(err) != mq.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if n := len(f.srv.Messages()); n != 0 {
		t.Errorf("%d messages reached the server", n)
	}
	long := &driver.Message{Key: strings.Repeat("k", maxOrderingBytes+1)}
	if err := checkMessage(long); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("checkMessage(1025-byte key) = %v", err)
	}
	huge := &driver.Message{Body: make([]byte, maxBodySize), Attributes: map[string]string{"k": strings.Repeat("v", 1024)}}
	if err := checkMessage(huge); err != nil {
		t.Errorf("checkMessage(max body with an attribute) = %v", err)
	}
	huge.Body = make([]byte, maxMessageBytes)
	if err := checkMessage(huge); driver.CodeOf(err) != driver.InvalidArgument {
		t.Errorf("checkMessage(10 MB body) = %v", err)
	}
}

// TestDriverAttributesTravelAndVanish checks the attributes the driver adds
// (DedupID, the empty-message marker) on the wire and their removal on
// receipt.
func TestDriverAttributesTravelAndVanish(t *testing.T) {
	f := newFake(t)
	p := f.producer(f.topic("attrs"))
	s := f.sub(f.subscription("attrs", "attrs-sub", mq.SubscriptionConfig{}))
	user := map[string]string{"a": "1"}
	dedup := f.send(p, &mq.Message{Body: []byte("d"), Attributes: user, DedupID: "order-1"})
	empty := f.send(p, &mq.Message{})
	if len(user) != 1 {
		t.Errorf("Send changed the caller's attributes: %v", user)
	}
	wire := map[string]map[string]string{}
	for _, m := range f.srv.Messages() {
		wire[m.ID] = m.Attributes
	}
	if w := wire[dedup.ID]; w[attrDedupID] != "order-1" || w["a"] != "1" {
		t.Errorf("on the wire: %v", w)
	}
	if w := wire[empty.ID]; w[attrEmpty] != "1" || len(w) != 1 {
		t.Errorf("empty message on the wire: %v", w)
	}
	for range 2 {
		d := f.recv(s, 5*time.Second)
		switch d.ID {
		case dedup.ID:
			if d.DedupID != "order-1" || len(d.Attributes) != 1 || d.Attributes["a"] != "1" {
				t.Errorf("received DedupID %q, attributes %v", d.DedupID, d.Attributes)
			}
		case empty.ID:
			if len(d.Body) != 0 || d.Attributes != nil {
				t.Errorf("received body %q, attributes %v; want neither", d.Body, d.Attributes)
			}
		}
		var rm *pb.ReceivedMessage
		if !d.As(&rm) || rm.GetMessage().GetMessageId() != d.ID {
			t.Errorf("Delivery.As(**pb.ReceivedMessage) = %v", rm)
		}
		if err := d.Ack(); err != nil {
			t.Error(err)
		}
	}
	var c *pubsub.Client
	if !p.As(&c) || c == nil || !s.As(&c) {
		t.Errorf("As(**pubsub.Client) failed")
	}
}
