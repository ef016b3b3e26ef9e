package gcppubsub

import (
	"context"
	"errors"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/portmq/portmq/mq"
)

// cannedPull is a pstest reactor that answers Pull calls with queued
// responses, as the real service may: several messages of one ordering
// key at once. Past the queue, pstest answers.
type cannedPull struct{ next chan *pb.PullResponse }

func (c *cannedPull) React(any) (bool, any, error) {
	select {
	case r := <-c.next:
		return true, r, nil
	default:
		return false, nil, nil
	}
}

// canned publishes messages to a topic without subscriptions (so that
// pstest records the modacks of their IDs) and returns them as one Pull
// response, keys given per body.
func canned(f *fake, keys ...string) (*pb.PullResponse, map[string]string) {
	resp := &pb.PullResponse{}
	ids := map[string]string{}
	for i := 0; i+1 < len(keys); i += 2 {
		body, key := keys[i], keys[i+1]
		id := f.srv.PublishOrdered(fullName(testProject, kindTopic, "canned-src"), []byte(body), nil, key)
		ids[body] = id
		resp.ReceivedMessages = append(resp.ReceivedMessages, &pb.ReceivedMessage{
			AckId:   id + ":canned",
			Message: &pb.PubsubMessage{MessageId: id, Data: []byte(body), OrderingKey: key, PublishTime: timestamppb.Now()},
		})
	}
	return resp, ids
}

func modackDeadlines(f *fake, id string) []int32 {
	var out []int32
	for _, m := range f.srv.Message(id).Modacks {
		out = append(out, m.AckDeadline)
	}
	return out
}

// TestOrderedKeyHasOneDeliveryInFlight: of several messages of a key in one
// Pull, the handle gives out one at a time, keeps the held ones' leases,
// gives the next after an ack and hands them all back after a nack.
func TestOrderedKeyHasOneDeliveryInFlight(t *testing.T) {
	rx := &cannedPull{next: make(chan *pb.PullResponse, 2)}
	f := newFake(t, pstest.ServerReactorOption{FuncName: "Pull", Reactor: rx})
	f.topic("canned-src")
	f.topic("ordered")
	s := f.sub(f.subscription("ordered", "ordered-sub", mq.SubscriptionConfig{Lease: 2 * time.Second, Ordered: true}))
	resp, ids := canned(f, "a0", "a", "a1", "a", "b0", "b")
	rx.next <- resp

	recvBody := func(want string) *mq.Delivery {
		t.Helper()
		d := f.recv(s, 5*time.Second)
		if string(d.Body) != want {
			t.Fatalf("received %q, want %q", d.Body, want)
		}
		return d
	}
	none := func(why string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(f.ctx(), 300*time.Millisecond)
		defer cancel()
		if d, err := s.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: Receive = %v, %v", why, d, err)
		}
	}
	a0 := recvBody("a0")
	if err := recvBody("b0").Ack(); err != nil { // another key flows
		t.Fatal(err)
	}
	none("a1 must wait for a0")
	// Keep a0 for longer than a lease; a1's lease is kept meanwhile.
	for start := time.Now(); time.Since(start) < 2500*time.Millisecond; {
		if err := a0.Extend(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		none("a1 must wait for a0 while a0 is extended")
	}
	if got := modackDeadlines(f, ids["a1"]); len(got) == 0 || got[0] != 2 {
		t.Errorf("held a1 modacks %v, want extensions of 2 s", got)
	}
	if err := a0.Ack(); err != nil {
		t.Fatal(err)
	}
	if err := recvBody("a1").Ack(); err != nil {
		t.Error(err)
	}

	resp, ids = canned(f, "c0", "c", "c1", "c", "c2", "c")
	rx.next <- resp
	c0 := recvBody("c0")
	if err := c0.Nack(0); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"c1", "c2"} {
		if got := modackDeadlines(f, ids[body]); len(got) != 1 || got[0] != 0 {
			t.Errorf("%s modacks %v after c0's nack, want one nack", body, got)
		}
	}
	none("c1 and c2 went back with c0")
}
