package memdriver

import (
	"context"
	"sync/atomic"

	"github.com/portmq/portmq/mq/driver"
)

// Admin returns a driver.Admin that provisions topics and subscriptions in
// e.
func (e *Engine) Admin() driver.Admin { return &admin{e: e} }

type admin struct {
	e      *Engine
	closed atomic.Bool
}

func (a *admin) check(ctx context.Context) error {
	if a.closed.Load() {
		return errAdminClosed
	}
	return ctx.Err()
}

// CreateTopic creates topic name or fails with code AlreadyExists.
func (a *admin) CreateTopic(ctx context.Context, name string, cfg driver.TopicConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if err := checkName("topic", name); err != nil {
		return err
	}
	if cfg.DedupWindow < 0 {
		return invalid("negative dedup window")
	}
	e := a.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.topics[name] != nil {
		return driver.NewError(driver.AlreadyExists, "memdriver: topic "+name+" already exists")
	}
	t := e.topicLocked(name)
	t.dedup.setWindow(cfg.DedupWindow)
	t.dedupSet = cfg.DedupWindow != 0
	return nil
}

// CreateSubscription creates subscription name on topic (and its
// dead-letter topic) or fails with code AlreadyExists, or NotFound if the
// topic is missing.
func (a *admin) CreateSubscription(ctx context.Context, topic, name string, cfg driver.SubscriptionConfig) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	if err := checkName("topic", topic); err != nil {
		return err
	}
	if err := checkName("subscription", name); err != nil {
		return err
	}
	if err := checkSubConfig(cfg); err != nil {
		return err
	}
	e := a.e
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.existingTopicLocked(topic)
	if err != nil {
		return err
	}
	if t.byName[name] != nil {
		return driver.NewError(driver.AlreadyExists, "memdriver: subscription "+topic+"/"+name+" already exists")
	}
	e.newSubscriptionLocked(t, name, cfg)
	return nil
}

// DeleteTopic deletes topic name and its subscriptions, or fails with code
// NotFound.
func (a *admin) DeleteTopic(ctx context.Context, name string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	e := a.e
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.existingTopicLocked(name)
	if err != nil {
		return err
	}
	delete(e.topics, name)
	t.deleted.Store(true)
	for _, s := range *t.subs.Load() {
		t.removeSubLocked(s)
		s.markDeleted()
	}
	return nil
}

// DeleteSubscription deletes subscription name of topic, or fails with
// code NotFound.
func (a *admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	if err := a.check(ctx); err != nil {
		return err
	}
	e := a.e
	e.mu.Lock()
	defer e.mu.Unlock()
	t, err := e.existingTopicLocked(topic)
	if err != nil {
		return err
	}
	s := t.byName[name]
	if s == nil {
		return notFound("subscription " + topic + "/" + name + " does not exist")
	}
	t.removeSubLocked(s)
	s.markDeleted()
	return nil
}

// existingTopicLocked returns topic name, or an error with code NotFound.
// e.mu is held.
func (e *Engine) existingTopicLocked(name string) (*topic, error) {
	if t := e.topics[name]; t != nil {
		return t, nil
	}
	return nil, notFound("topic " + name + " does not exist")
}

// As exposes the *Engine through a **Engine.
func (a *admin) As(i any) bool { return asEngine(a.e, i) }

// ErrorAs reports false: memdriver has no native errors.
func (a *admin) ErrorAs(error, any) bool { return false }

// ErrorCode implements driver.Common.
func (a *admin) ErrorCode(err error) driver.ErrorCode { return errorCode(err) }

// Close implements driver.Common.
func (a *admin) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return errAdminClosed
	}
	return nil
}
