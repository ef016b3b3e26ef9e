package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/portmq/portmq/mq/driver"
)

// AdminOptions configures an Admin; nil means the defaults.
type AdminOptions struct {
	// Prefix starts every key the driver uses (DefaultPrefix when "").
	Prefix string
}

// Admin creates and deletes topics (streams) and subscriptions (consumer
// groups, with their retry stream, delay set and stored settings).
type Admin struct {
	c       *goredis.Client
	prefix  string
	release func()
}

var _ driver.Admin = (*Admin)(nil)

// NewAdmin returns an Admin working through c, which the caller keeps
// owning.
func NewAdmin(c *goredis.Client, opts *AdminOptions) *Admin {
	a := &Admin{c: c, prefix: DefaultPrefix}
	if opts != nil && opts.Prefix != "" {
		a.prefix = opts.Prefix
	}
	return a
}

// CreateTopic implements driver.Admin: an empty stream, and the dedup
// window (if any) stored for the topic's producers.
func (a *Admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := checkName("topic", name); err != nil {
		return err
	}
	if cfg.DedupWindow < 0 {
		return optionError("negative dedup window")
	}
	k := topicKeys(a.prefix, name)
	ok, err := createTopicScript.Run(ctx, a.c, []string{k.stream}).Int64()
	if err != nil {
		return err
	}
	if ok == 0 {
		return &driver.Error{Code: driver.AlreadyExists, Msg: "redis: topic " + strconv.Quote(name) + " exists"}
	}
	if cfg.DedupWindow > 0 {
		return a.c.HSet(ctx, k.stream+":meta", "dedup", cfg.DedupWindow.String()).Err()
	}
	return nil
}

// CreateSubscription implements driver.Admin: a consumer group on the
// topic stream (starting at its end: it gets what is sent from now on) and
// on the subscription's retry stream, the dead-letter topic's stream when
// missing, and the settings, stored for the subscription's handles.
func (a *Admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if err := checkName("topic", topic); err != nil {
		return err
	}
	if err := checkName("subscription", name); err != nil {
		return err
	}
	if cfg.Lease < 0 || cfg.MaxAttempts < 0 {
		return optionError("negative lease or max attempts")
	}
	if cfg.DeadLetterTopic != "" {
		if err := checkName("dead-letter topic", cfg.DeadLetterTopic); err != nil {
			return err
		}
	} else if cfg.MaxAttempts > 0 {
		return optionError("max attempts needs a dead-letter topic (Redis has nowhere to move the message)")
	}
	k := topicKeys(a.prefix, topic)
	n, err := a.c.Exists(ctx, k.stream).Result()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("topic " + strconv.Quote(topic) + " does not exist")
	}
	if err := a.c.XGroupCreate(ctx, k.stream, name, "$").Err(); err != nil {
		if goredis.HasErrorPrefix(err, "BUSYGROUP") {
			return &driver.Error{Code: driver.AlreadyExists, Msg: "redis: subscription " + strconv.Quote(name) + " of topic " + strconv.Quote(topic) + " exists", Err: err}
		}
		return err
	}
	if err := a.c.XGroupCreateMkStream(ctx, k.retry(name), name, "0").Err(); err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
		return err
	}
	if cfg.DeadLetterTopic != "" {
		dk := topicKeys(a.prefix, cfg.DeadLetterTopic)
		if err := createTopicScript.Run(ctx, a.c, []string{dk.stream}).Err(); err != nil {
			return err
		}
	}
	meta := map[string]any{"ordered": strconv.FormatBool(cfg.Ordered)}
	if cfg.Lease > 0 {
		meta["lease"] = cfg.Lease.String()
	}
	if cfg.MaxAttempts > 0 {
		meta["max_attempts"] = strconv.Itoa(cfg.MaxAttempts)
	}
	if cfg.DeadLetterTopic != "" {
		meta["dead_letter"] = cfg.DeadLetterTopic
	}
	return a.c.HSet(ctx, k.meta(name), meta).Err()
}

// DeleteTopic implements driver.Admin: the stream and every key of the
// topic (its subscriptions' retry streams, delay sets, settings, dedup
// keys). A dead-letter topic is a topic of its own and stays.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	if err := checkName("topic", name); err != nil {
		return err
	}
	k := topicKeys(a.prefix, name)
	n, err := a.c.Del(ctx, k.stream).Result()
	if err != nil {
		return err
	}
	if err := a.delMatching(ctx, k.stream+":*"); err != nil {
		return err
	}
	if n == 0 {
		return notFound("topic " + strconv.Quote(name) + " does not exist")
	}
	return nil
}

// DeleteSubscription implements driver.Admin: the consumer group and the
// subscription's retry stream, delay set, key-order state and settings.
func (a *Admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	if err := checkName("topic", topic); err != nil {
		return err
	}
	if err := checkName("subscription", name); err != nil {
		return err
	}
	k := topicKeys(a.prefix, topic)
	n, err := a.c.XGroupDestroy(ctx, k.stream, name).Result()
	if err != nil && !goredis.HasErrorPrefix(err, "ERR no such key") && !goredis.HasErrorPrefix(err, "no such key") {
		return err
	}
	if err := a.c.Del(ctx, k.retry(name), k.subDelay(name), k.meta(name), k.owners(name), k.owners(name)+":ids").Err(); err != nil {
		return err
	}
	if err := a.delMatching(ctx, k.park(name)+"*"); err != nil {
		return err
	}
	if n == 0 {
		return notFound("subscription " + strconv.Quote(name) + " of topic " + strconv.Quote(topic) + " does not exist")
	}
	return nil
}

// delMatching deletes the keys matching the SCAN pattern pat (whose
// literal part is escaped).
func (a *Admin) delMatching(ctx context.Context, pat string) error {
	lit, star := strings.CutSuffix(pat, "*")
	pat = globEscape(lit)
	if star {
		pat += "*"
	}
	it := a.c.Scan(ctx, 0, pat, 500).Iterator()
	var batch []string
	for it.Next(ctx) {
		batch = append(batch, it.Val())
		if len(batch) == 500 {
			if err := a.c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("redis: scanning %s: %w", pat, err)
	}
	if len(batch) > 0 {
		return a.c.Unlink(ctx, batch...).Err()
	}
	return nil
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// As implements driver.Common: *goredis.Client.
func (a *Admin) As(i any) bool { return asClient(a.c, i) }

// ErrorAs implements driver.Common.
func (a *Admin) ErrorAs(err error, i any) bool { return errorAs(err, i) }

// ErrorCode implements driver.Common.
func (a *Admin) ErrorCode(err error) driver.ErrorCode { return classify(err) }

// Close implements driver.Common.
func (a *Admin) Close() error {
	if a.release != nil {
		a.release()
	}
	return nil
}
