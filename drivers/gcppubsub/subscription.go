package gcppubsub

import (
	"context"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/portmq/portmq/mq/driver"
)

// closeTimeout bounds the calls that hand deliveries back on Close and
// for stale prefetched messages.
const closeTimeout = 5 * time.Second

// subscription is the driver.Subscription of one subscription handle.
type subscription struct {
	client  *pubsub.Client
	subc    *vkit.SubscriptionAdminClient
	name    string // projects/P/subscriptions/S
	set     settings
	caps    driver.Capabilities
	info    driver.SubscriptionInfo
	release func() // gives back the pooled client; nil if not pooled

	recv   receiver
	out    outstanding
	closed atomic.Bool
	native
}

var (
	_ driver.Subscription          = (*subscription)(nil)
	_ driver.Seeker                = (*subscription)(nil)
	_ driver.DeadLetterTopicOpener = (*subscription)(nil)
)

// OpenSubscription returns a driver.Subscription on subscription (an ID in
// the client's project, or projects/P/subscriptions/S) through client,
// which the caller keeps and closes after closing the subscription. Wrap
// it with mq.NewSubscription. It reads the subscription's configuration
// (ack deadline, dead-letter policy, ordering) with GetSubscription; see
// SubscriptionOptions for callers without that permission.
func OpenSubscription(ctx context.Context, client *pubsub.Client, subscription string, opts *SubscriptionOptions) (driver.Subscription, error) {
	if client == nil {
		return nil, invalid("OpenSubscription: nil client")
	}
	name, err := resolveName(client.Project(), kindSubscription, subscription)
	if err != nil {
		return nil, err
	}
	var o SubscriptionOptions
	if opts != nil {
		o = *opts
	}
	return newSubscription(ctx, client, name, &o, nil)
}

func newSubscription(ctx context.Context, client *pubsub.Client, name string, opts *SubscriptionOptions, release func()) (*subscription, error) {
	set, err := loadSettings(ctx, client, name, opts)
	if err != nil {
		return nil, err
	}
	s := &subscription{client: client, subc: client.SubscriptionAdminClient, name: name, set: set, release: release}
	s.caps = set.caps()
	s.info = driver.SubscriptionInfo{
		Name:          name,
		Lease:         set.lease,
		MaxAttempts:   set.maxAttempts,
		Ordered:       set.ordered,
		HasDeadLetter: set.deadLetter != "",
	}
	s.out.init()
	s.recv.init(s)
	if set.ordered {
		s.recv.busy = make(map[string]*delivery)
	}
	return s, nil
}

// staleMargin is how much lease a prefetched message must have left to
// be handed out.
func (s *subscription) staleMargin() time.Duration { return s.set.lease / 4 }

// ReceiveBatch implements driver.Subscription with unary Pull (see the
// package doc for why not streaming pull).
func (s *subscription) ReceiveBatch(ctx context.Context, dst []driver.Message) (int, error) {
	if s.closed.Load() {
		return 0, errSubClosed
	}
	return s.recv.receive(ctx, dst)
}

// convert turns pulled messages into driver messages and records their
// deliveries as outstanding. A delivery's deadline counts from when the
// response arrived, less the call's duration up to a tenth of the lease,
// so that it is not later than the server's, which starts when the server
// hands the message out.
func (s *subscription) convert(rms []*pb.ReceivedMessage, start, recv time.Time) []driver.Message {
	if len(rms) == 0 {
		return nil
	}
	lease := s.set.lease
	deadline := recv.Add(lease - min(recv.Sub(start), lease/10))
	dl := deadline.UnixNano()
	out := make([]driver.Message, len(rms))
	ds := make([]delivery, len(rms))
	for i, rm := range rms {
		d := &ds[i]
		d.sub, d.ackID = s, rm.GetAckId()
		if s.set.ordered {
			d.key = rm.GetMessage().GetOrderingKey()
		}
		d.deadline.Store(dl)
		m := rm.GetMessage()
		dm := &out[i]
		*dm = driver.Message{
			ID:       m.GetMessageId(),
			Body:     m.GetData(),
			Key:      m.GetOrderingKey(),
			AckID:    driver.AckID{Ref: d},
			Deadline: deadline,
			Native:   rm, // Delivery.As(**pb.ReceivedMessage)
		}
		if pt := m.GetPublishTime(); pt != nil {
			dm.PublishedAt = pt.AsTime()
		}
		if s.caps.Attempts.Has() {
			dm.Attempt = int(rm.GetDeliveryAttempt())
		}
		dm.Attributes, dm.DedupID = fromAttributes(m.GetAttributes())
	}
	s.out.add(ds)
	return out
}

// Ack implements driver.Subscription. Deliveries whose deadline passed
// (and unknown ones) fail with driver.ErrLeaseExpired and are not sent:
// the message will be delivered again.
func (s *subscription) Ack(ctx context.Context, ids []driver.AckID) error {
	if s.closed.Load() {
		return errSubClosed
	}
	c := s.claim(ids, true)
	c.rpc(len(ids), func(ackIDs []string) error {
		err := s.subc.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: s.name, AckIds: ackIDs})
		return wrap(err, "acknowledge on %s", s.name)
	})
	s.releaseKeys(c, true)
	return c.result()
}

// Nack implements driver.Subscription: ModifyAckDeadline to delay,
// rounded up to whole seconds (0 makes the message available at once).
// mq passes no delay above Capabilities.MaxDelay (600 s).
func (s *subscription) Nack(ctx context.Context, ids []driver.AckID, delay time.Duration) error {
	if s.closed.Load() {
		return errSubClosed
	}
	if delay < 0 || delay > maxAckDeadline {
		return invalid("nack delay %v outside Pub/Sub's 0 to %v", delay, maxAckDeadline)
	}
	c := s.claim(ids, true)
	secs := seconds(delay)
	c.rpc(len(ids), func(ackIDs []string) error { return s.modack(ctx, ackIDs, secs) })
	s.releaseKeys(c, false)
	return c.result()
}

// Extend implements driver.Extender: ModifyAckDeadline to lease,
// rounded up to whole seconds and capped at 600 s.
func (s *subscription) Extend(ctx context.Context, ids []driver.AckID, lease time.Duration) error {
	if s.closed.Load() {
		return errSubClosed
	}
	if lease <= 0 {
		return invalid("lease %v must be positive", lease)
	}
	secs := seconds(lease)
	sent := time.Now()
	c := s.claim(ids, false)
	c.rpc(len(ids), func(ackIDs []string) error { return s.modack(ctx, ackIDs, secs) })
	until := sent.Add(time.Duration(secs) * time.Second).UnixNano()
	for k, d := range c.live {
		if c.errs == nil || c.errs[c.idx[k]] == nil {
			d.deadline.Store(until)
		}
	}
	return c.result()
}

// Seek implements driver.Seeker: Seek to a time, which marks messages
// published before t acknowledged and those published since (and retained:
// unacked ones, acked ones with retain_acked_messages or topic retention)
// unacknowledged.
func (s *subscription) Seek(ctx context.Context, t time.Time) error {
	if s.closed.Load() {
		return errSubClosed
	}
	_, err := s.subc.Seek(ctx, &pb.SeekRequest{Subscription: s.name, Target: &pb.SeekRequest_Time{Time: timestamppb.New(t)}})
	return wrap(err, "seek %s", s.name)
}

// OpenDeadLetterTopic implements driver.DeadLetterTopicOpener: a topic
// handle on the dead-letter topic that shares this handle's client (mq
// closes it before the subscription).
func (s *subscription) OpenDeadLetterTopic(ctx context.Context) (driver.Topic, error) {
	if s.closed.Load() {
		return nil, errSubClosed
	}
	if s.set.deadLetter == "" {
		return nil, newError(driver.FailedPrecondition, "subscription %s has no dead-letter topic", s.name)
	}
	return newTopic(s.client, s.set.deadLetter, nil, nil)
}

// Info implements driver.Subscription.
func (s *subscription) Info() driver.SubscriptionInfo { return s.info }

// Capabilities implements driver.Subscription.
func (s *subscription) Capabilities() driver.Capabilities { return s.caps }

// As implements driver.Common: **pubsub.Client and
// **vkit.SubscriptionAdminClient.
func (s *subscription) As(i any) bool {
	if p, ok := i.(**vkit.SubscriptionAdminClient); ok && p != nil {
		*p = s.subc
		return true
	}
	return asClient(i, s.client)
}

// Close stops pulling and hands every unsettled delivery of the handle
// back at once (ModifyAckDeadline 0), including messages pulled for
// callers that gave up, then gives back the client.
func (s *subscription) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return errSubClosed
	}
	s.recv.close()
	ids := s.out.drain(time.Now().UnixNano())
	var err error
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		err = s.modack(ctx, ids, 0)
		cancel()
	}
	if s.release != nil {
		s.release()
	}
	return err
}
