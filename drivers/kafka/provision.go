package kafka

import (
	"context"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/portmq/portmq/mq/driver"
)

// provision prepares what an opened subscription needs: the retry topic
// (unordered subscriptions), the group's starting offsets, and in share
// mode the group's share.auto.offset.reset and a check of the broker's
// delivery limit against MaxAttempts.
func (s *subscription) provision(ctx context.Context) error {
	if !s.o.Ordered {
		if err := ensureTopic(ctx, s.base, s.o.RetryTopic, s.topic); err != nil {
			return err
		}
	}
	if s.o.Mode == ShareMode {
		if err := checkDeliveryLimit(ctx, s.base, s.group, s.o.MaxAttempts); err != nil {
			return err
		}
		return initShareGroup(ctx, s.base, s.adm, s.group, s.topic, s.o.Start)
	}
	return initGroup(ctx, s.adm, s.group, s.topic, s.o.Start)
}

// ensureTopic creates topic, with like's partition count, if it does not
// exist.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic, like string) error {
	parts, err := topicPartitions(ctx, cl, topic, like)
	if err != nil {
		return err
	}
	if _, ok := parts[topic]; ok {
		return nil
	}
	n, ok := parts[like]
	if !ok {
		n = -1
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, n, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return wrap("create topic "+topic, err)
	}
	return nil
}

// topicPartitions returns the partition counts of the topics that exist,
// asking the cluster (kadm's metadata cache may remember a topic as
// missing for seconds after it was created).
func topicPartitions(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, wrap("metadata", err)
	}
	out := make(map[string]int32, len(topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		switch err := kerr.ErrorForCode(t.ErrorCode); {
		case err == nil:
			out[*t.Topic] = int32(len(t.Partitions))
		case errors.Is(err, kerr.UnknownTopicOrPartition):
		default:
			return nil, wrap("metadata of "+*t.Topic, err)
		}
	}
	return out, nil
}

// initGroup makes a consumer group that has no committed offset for a
// partition of topic start there at the partition's end (StartLatest), so
// that it gets every message sent from now on. Partitions without a
// commit otherwise start at their beginning.
func initGroup(ctx context.Context, adm *kadm.Client, group, topic string, start Start) error {
	if start != StartLatest {
		return nil
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return wrap("fetch the offsets of group "+group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return wrap("list the end offsets of "+topic, err)
	}
	if err := ends.Error(); err != nil {
		return wrap("list the end offsets of "+topic, err)
	}
	set := make(kadm.Offsets)
	ends.Each(func(lo kadm.ListedOffset) {
		if c, ok := committed.Lookup(topic, lo.Partition); ok && c.Err == nil && c.At >= 0 {
			return
		}
		set.AddOffset(topic, lo.Partition, lo.Offset, -1)
	})
	if len(set) == 0 {
		return nil
	}
	resp, err := adm.CommitOffsets(ctx, group, set)
	if err == nil {
		err = resp.Error()
	}
	// A group with members commits for itself; another handle got there
	// first.
	if err != nil && !errors.Is(err, kerr.UnknownMemberID) && !errors.Is(err, kerr.IllegalGeneration) &&
		!errors.Is(err, kerr.RebalanceInProgress) {
		return wrap("commit the starting offsets of group "+group, err)
	}
	return nil
}

// initShareGroup sets share.auto.offset.reset=earliest on the share group
// (so that partitions it has never read start at their beginning) and,
// for StartLatest, makes a share group with no state for topic start at
// the topic's end.
func initShareGroup(ctx context.Context, cl *kgo.Client, adm *kadm.Client, group, topic string, start Start) error {
	if start == StartLatest {
		described, err := adm.DescribeShareGroupOffsets(ctx, group)
		has := false
		if err == nil {
			if d, ok := described[group]; ok {
				for _, ps := range d.Offsets {
					for _, p := range ps {
						if p.Topic == topic && p.Err == nil && p.StartOffset >= 0 {
							has = true
						}
					}
				}
			}
		}
		if !has {
			ends, err := adm.ListEndOffsets(ctx, topic)
			if err == nil {
				err = ends.Error()
			}
			if err != nil {
				return wrap("list the end offsets of "+topic, err)
			}
			set := make(kadm.Offsets)
			ends.Each(func(lo kadm.ListedOffset) { set.AddOffset(topic, lo.Partition, lo.Offset, -1) })
			resp, err := adm.AlterShareGroupOffsets(ctx, group, set)
			if err == nil {
				err = resp.Error()
			}
			if err != nil && !errors.Is(err, kerr.NonEmptyGroup) {
				return wrap("set the starting offsets of share group "+group, err)
			}
		}
	}
	return alterGroupConfig(ctx, cl, group, "share.auto.offset.reset", "earliest")
}

// alterGroupConfig sets one config of a group (IncrementalAlterConfigs on
// a GROUP resource).
func alterGroupConfig(ctx context.Context, cl *kgo.Client, group, key, value string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	r.ResourceName = group
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name = key
	c.Value = &value
	r.Configs = append(r.Configs, c)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return wrap("set "+key+" of group "+group, err)
	}
	for _, rr := range resp.Resources {
		if err := kerr.ErrorForCode(rr.ErrorCode); err != nil {
			return wrap("set "+key+" of group "+group, err)
		}
	}
	return nil
}

// checkDeliveryLimit makes sure the broker does not archive a record
// before the driver can dead-letter it: the group's delivery limit
// (share.delivery.count.limit, else the broker's
// group.share.delivery.count.limit, default 5) must exceed MaxAttempts.
// When the configs cannot be read the check is skipped.
func checkDeliveryLimit(ctx context.Context, cl *kgo.Client, group string, maxAttempts int) error {
	if maxAttempts == 0 {
		return nil
	}
	limit := 5
	if v, ok := describeConfig(ctx, cl, kmsg.ConfigResourceTypeBroker, "", "group.share.delivery.count.limit"); ok {
		limit = v
	}
	if v, ok := describeConfig(ctx, cl, kmsg.ConfigResourceTypeGroupConfig, group, "share.delivery.count.limit"); ok {
		limit = v
	}
	if maxAttempts >= limit {
		return &driver.Error{Code: driver.FailedPrecondition, Msg: "kafka: max_attempts " + strconv.Itoa(maxAttempts) +
			" must be below the share group's delivery limit " + strconv.Itoa(limit) +
			" (share.delivery.count.limit), or the broker archives records before they can be dead-lettered"}
	}
	return nil
}

// describeConfig reads one integer config; ok is false when it is unset
// or cannot be read.
func describeConfig(ctx context.Context, cl *kgo.Client, typ kmsg.ConfigResourceType, name, key string) (int, bool) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType = typ
	r.ResourceName = name
	r.ConfigNames = []string{key}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, false
	}
	for _, rr := range resp.Resources {
		if rr.ErrorCode != 0 {
			continue
		}
		for _, c := range rr.Configs {
			if c.Name == key && c.Value != nil {
				if n, err := strconv.Atoi(*c.Value); err == nil && n > 0 {
					return n, true
				}
			}
		}
	}
	return 0, false
}
