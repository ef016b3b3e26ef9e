package gcppubsub

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/portmq/portmq/mq/driver"
)

// Retention of acked messages (for Seek): Pub/Sub keeps them 10 min to
// 7 days.
const (
	minRetention = 10 * time.Minute
	maxRetention = 7 * 24 * time.Hour
)

// admin is the driver.Admin of one project.
type admin struct {
	client  *pubsub.Client
	release func()
	closed  atomic.Bool
	native
}

var _ driver.Admin = (*admin)(nil)

// OpenAdmin returns a driver.Admin that provisions topics and
// subscriptions in the client's project; names may also be full names in
// other projects. The caller keeps and closes client. Wrap it with
// mq.NewAdmin.
func OpenAdmin(client *pubsub.Client) (driver.Admin, error) {
	if client == nil {
		return nil, invalid("OpenAdmin: nil client")
	}
	return newAdmin(client, nil), nil
}

func newAdmin(c *pubsub.Client, release func()) *admin { return &admin{client: c, release: release} }

func (a *admin) check() error {
	if a.closed.Load() {
		return errAdminClosed
	}
	return nil
}

// CreateTopic creates a topic. Pub/Sub cannot deduplicate: a DedupWindow
// fails with code Unsupported (use a Consumer with an IdempotencyStore).
func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := a.check(); err != nil {
		return err
	}
	full, err := resolveName(a.client.Project(), kindTopic, name)
	if err != nil {
		return err
	}
	if cfg.DedupWindow != 0 {
		return &driver.Error{Code: driver.Unsupported, Msg: "gcppubsub: Pub/Sub has no producer-side deduplication (use a Consumer with an IdempotencyStore)", Err: errors.ErrUnsupported}
	}
	_, err = a.client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: full})
	return wrap(err, "create topic %s", full)
}

// CreateSubscription creates subscription name on topic:
//
//   - Lease sets the ack deadline (whole seconds, rounded up; Pub/Sub takes
//     10 s to 600 s; zero means its default of 10 s).
//   - MaxAttempts 5 to 100 becomes the dead-letter policy's max delivery
//     attempts. 1 to 4 is below the policy's minimum: the policy gets 5 as
//     a backstop, the label portmq-max-attempts records the count, and mq
//     dead-letters at it. Above 100 is an error: Pub/Sub counts no
//     further.
//   - DeadLetterTopic (default SUBSCRIPTION-dlq when MaxAttempts is set) is
//     created if missing, with a subscription of the same ID if it has
//     none, since Pub/Sub drops messages of a topic without subscriptions.
//     A dead-letter topic without MaxAttempts is an error: a Pub/Sub
//     policy always dead-letters.
//   - Ordered enables message ordering.
//   - Retention retains acked messages for Seek, at least 10 min (Pub/Sub's
//     minimum) and at most 7 days.
func (a *admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if err := a.check(); err != nil {
		return err
	}
	project := a.client.Project()
	topicName, err := resolveName(project, kindTopic, topic)
	if err != nil {
		return err
	}
	subName, err := resolveName(project, kindSubscription, name)
	if err != nil {
		return err
	}
	sub := &pb.Subscription{Name: subName, Topic: topicName, EnableMessageOrdering: cfg.Ordered}
	switch {
	case cfg.Lease < 0 || cfg.Lease > maxAckDeadline:
		return invalid("lease %v outside Pub/Sub's ack deadlines of 10s to %v", cfg.Lease, maxAckDeadline)
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > maxPolicyAttempts:
		return invalid("max attempts %d outside 0 to %d: Pub/Sub counts delivery attempts up to %d", cfg.MaxAttempts, maxPolicyAttempts, maxPolicyAttempts)
	case cfg.MaxAttempts == 0 && cfg.DeadLetterTopic != "":
		return invalid("dead-letter topic %s without max attempts: a Pub/Sub dead-letter policy always dead-letters (after 5 attempts by default)", strconv.Quote(cfg.DeadLetterTopic))
	case cfg.Retention < 0 || cfg.Retention > maxRetention:
		return invalid("retention %v outside Pub/Sub's 10m to %v", cfg.Retention, maxRetention)
	}
	sub.AckDeadlineSeconds = defaultAckSeconds(cfg.Lease)
	if cfg.Retention > 0 {
		sub.RetainAckedMessages = true
		sub.MessageRetentionDuration = durationpb.New(max(cfg.Retention, minRetention))
	}
	if cfg.MaxAttempts > 0 {
		dlq := cfg.DeadLetterTopic
		if dlq == "" {
			dlq = lastSegment(subName) + "-dlq"
		}
		dlqName, err := resolveName(project, kindTopic, dlq)
		if err != nil {
			return err
		}
		if err := a.ensureDeadLetterTopic(ctx, dlqName); err != nil {
			return err
		}
		policy := int32(cfg.MaxAttempts)
		if cfg.MaxAttempts < minPolicyAttempts {
			policy = minPolicyAttempts
			sub.Labels = map[string]string{labelMaxAttempts: strconv.Itoa(cfg.MaxAttempts)}
		}
		sub.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: dlqName, MaxDeliveryAttempts: policy}
	}
	_, err = a.client.SubscriptionAdminClient.CreateSubscription(ctx, sub)
	return wrap(err, "create subscription %s", subName)
}

// ensureDeadLetterTopic creates the dead-letter topic if missing and a
// subscription of the same ID on it if it has none.
func (a *admin) ensureDeadLetterTopic(ctx context.Context, name string) error {
	_, err := a.client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: name})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return wrap(err, "create dead-letter topic %s", name)
	}
	it := a.client.TopicAdminClient.ListTopicSubscriptions(ctx, &pb.ListTopicSubscriptionsRequest{Topic: name, PageSize: 1})
	_, err = it.Next()
	switch {
	case err == nil:
		return nil // it has a subscription
	case !errors.Is(err, iterator.Done):
		return wrap(err, "list the subscriptions of dead-letter topic %s", name)
	}
	project, _, id, _ := splitName(name)
	_, err = a.client.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{Name: fullName(project, kindSubscription, id), Topic: name, AckDeadlineSeconds: defaultAckSeconds(0)})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return wrap(err, "create a subscription on dead-letter topic %s", name)
	}
	return nil
}

// defaultAckSeconds is the ack deadline to create a subscription with:
// lease in whole seconds, 10 s for zero. (Pub/Sub reads 0 as 10 s, but
// pstest refuses it once its minimum is set.)
func defaultAckSeconds(lease time.Duration) int32 {
	if lease == 0 {
		lease = defaultAckDeadline
	}
	return seconds(lease)
}

// DeleteTopic deletes a topic. Pub/Sub keeps its subscriptions, detached.
func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	if err := a.check(); err != nil {
		return err
	}
	full, err := resolveName(a.client.Project(), kindTopic, name)
	if err != nil {
		return err
	}
	return wrap(a.client.TopicAdminClient.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: full}), "delete topic %s", full)
}

// DeleteSubscription deletes a subscription. Pub/Sub subscription names
// are unique in their project, so topic is not needed (and not checked).
func (a *admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	if err := a.check(); err != nil {
		return err
	}
	full, err := resolveName(a.client.Project(), kindSubscription, name)
	if err != nil {
		return err
	}
	return wrap(a.client.SubscriptionAdminClient.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: full}), "delete subscription %s", full)
}

// As implements driver.Common: **pubsub.Client.
func (a *admin) As(i any) bool { return asClient(i, a.client) }

// Close gives back the client.
func (a *admin) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return errAdminClosed
	}
	if a.release != nil {
		a.release()
	}
	return nil
}
