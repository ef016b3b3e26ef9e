package kafka

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/portmq/portmq/mq/driver"
)

// admin provisions topics and subscriptions.
type admin struct {
	cl  *kgo.Client
	own bool
	adm *kadm.Client
	o   AdminOptions
}

// OpenAdmin returns a driver admin working through cl, for mq.NewAdmin.
// Closing it does not close cl.
func OpenAdmin(cl *kgo.Client, opts *AdminOptions) (driver.Admin, error) {
	if cl == nil {
		return nil, invalid("nil client")
	}
	if opts != nil && (opts.Mode > ShareMode || opts.Start > StartEarliest || opts.Partitions < 0 ||
		opts.ReplicationFactor < -1) {
		return nil, invalid("bad AdminOptions")
	}
	return newAdmin(cl, false, opts), nil
}

func newAdmin(cl *kgo.Client, own bool, opts *AdminOptions) *admin {
	a := &admin{cl: cl, own: own, adm: kadm.NewClient(cl)}
	if opts != nil {
		a.o = *opts
	}
	if a.o.Partitions == 0 {
		a.o.Partitions = 3
	}
	if a.o.ReplicationFactor == 0 {
		a.o.ReplicationFactor = -1
	}
	return a
}

// CreateTopic creates a topic with the admin's partition count and
// replication factor. Kafka cannot drop duplicates by DedupID, so a
// DedupWindow is refused.
func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := checkName("topic", name); err != nil {
		return err
	}
	if cfg.DedupWindow > 0 {
		return &driver.Error{Code: driver.Unsupported, Msg: "kafka: topics cannot deduplicate by DedupID (use an idempotency store with mq.Consumer)", Err: errors.ErrUnsupported}
	}
	resp, err := a.adm.CreateTopic(ctx, a.o.Partitions, a.o.ReplicationFactor, nil, name)
	if err == nil {
		err = resp.Err
	}
	return wrap("create topic "+name, err)
}

// CreateSubscription creates what a subscription of topic named name
// needs: its retry topic, its dead-letter topic, and its group's starting
// offsets (at the topic's end with StartLatest, so that it gets every
// message sent from now on). Kafka keeps no other subscription settings:
// the lease, max attempts and ordering are given in the subscription URL
// (or SubscriptionOptions) of every handle, and a non-zero Lease,
// MaxAttempts or Ordered here is refused. Retention is the topic's own
// (retention.ms) and is not checked.
func (a *admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	o, err := resolveSubscription(topic, name, &SubscriptionOptions{Mode: a.o.Mode, DeadLetterTopic: cfg.DeadLetterTopic, Start: a.o.Start})
	if err != nil {
		return err
	}
	if cfg.Lease != 0 || cfg.MaxAttempts != 0 || cfg.Ordered {
		return invalid("Kafka keeps no subscription settings: give lease, max_attempts and ordered in the subscription URL")
	}
	parts, err := topicPartitions(ctx, a.cl, topic, o.RetryTopic)
	if err != nil {
		return err
	}
	if _, ok := parts[topic]; !ok {
		return &driver.Error{Code: driver.NotFound, Msg: "kafka: topic " + topic + " does not exist", Err: kerr.UnknownTopicOrPartition}
	}
	if _, ok := parts[o.RetryTopic]; ok {
		return &driver.Error{Code: driver.AlreadyExists, Msg: "kafka: subscription " + o.sourceName + " exists (its retry topic " + o.RetryTopic + " does)", Err: kerr.TopicAlreadyExists}
	}
	for _, t := range []string{o.RetryTopic, o.DeadLetterTopic} {
		if err := ensureTopic(ctx, a.cl, t, topic); err != nil {
			return err
		}
	}
	if o.Mode == ShareMode {
		return initShareGroup(ctx, a.cl, a.adm, name, topic, o.Start)
	}
	return initGroup(ctx, a.adm, name, topic, o.Start)
}

// DeleteTopic deletes a topic.
func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	resp, err := a.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	return wrap("delete topic "+name, err)
}

// DeleteSubscription deletes the subscription's groups (the consumer or
// share group, and in share mode its retry group) and its retry topic.
// The dead-letter topic is kept. Groups with members cannot be deleted.
func (a *admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	o, err := resolveSubscription(topic, name, nil)
	if err != nil {
		return err
	}
	found := false
	resps, err := a.adm.DeleteGroups(ctx, name, name+".retry")
	if err != nil {
		return wrap("delete group "+name, err)
	}
	for _, r := range resps {
		switch {
		case r.Err == nil:
			found = true
		case errors.Is(r.Err, kerr.GroupIDNotFound):
		default:
			return wrap("delete group "+r.Group, r.Err)
		}
	}
	resp, err := a.adm.DeleteTopic(ctx, o.RetryTopic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		found = true
	case !errors.Is(err, kerr.UnknownTopicOrPartition):
		return wrap("delete topic "+o.RetryTopic, err)
	}
	if !found {
		return &driver.Error{Code: driver.NotFound, Msg: "kafka: subscription " + o.sourceName + " does not exist"}
	}
	return nil
}

// As converts to **kadm.Client and **kgo.Client.
func (a *admin) As(i any) bool {
	switch p := i.(type) {
	case **kadm.Client:
		*p = a.adm
		return true
	case **kgo.Client:
		*p = a.cl
		return true
	}
	return false
}

func (a *admin) ErrorAs(err error, i any) bool        { return driver.ErrorAs(err, i) }
func (a *admin) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close closes the client if the admin owns it.
func (a *admin) Close() error {
	if a.own {
		a.cl.Close()
	}
	return nil
}
