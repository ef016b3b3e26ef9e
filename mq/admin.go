package mq

import (
	"context"

	"github.com/portmq/portmq/mq/driver"
)

// TopicConfig holds topic settings; see driver.TopicConfig.
type TopicConfig = driver.TopicConfig

// SubscriptionConfig holds subscription settings; see
// driver.SubscriptionConfig.
type SubscriptionConfig = driver.SubscriptionConfig

// Capabilities describes what a backend does natively; see
// driver.Capabilities.
type Capabilities = driver.Capabilities

// SubscriptionInfo describes a subscription's settings.
type SubscriptionInfo = driver.SubscriptionInfo

// Admin provisions topics and subscriptions, for development, tests and the
// CLI. Production setups usually provision with the backend's own tools.
type Admin struct {
	d driver.Admin
}

// NewAdmin wraps a driver's admin.
func NewAdmin(a driver.Admin) *Admin { return &Admin{d: a} }

// CreateTopic creates a topic; the error matches ErrAlreadyExists if it
// exists.
func (a *Admin) CreateTopic(ctx context.Context, name string, cfg TopicConfig) error {
	if name == "" {
		return newError(InvalidArgument, "mq.Admin.CreateTopic", "empty topic name", nil)
	}
	return wrapDriver(a.d, "mq.Admin.CreateTopic", a.d.CreateTopic(ctx, name, cfg))
}

// CreateSubscription creates a subscription on topic.
func (a *Admin) CreateSubscription(ctx context.Context, topic, name string, cfg SubscriptionConfig) error {
	const op = "mq.Admin.CreateSubscription"
	switch {
	case topic == "" || name == "":
		return newError(InvalidArgument, op, "empty topic or subscription name", nil)
	case cfg.Lease < 0, cfg.MaxAttempts < 0, cfg.Retention < 0:
		return newError(InvalidArgument, op, "negative lease, max attempts or retention", nil)
	}
	return wrapDriver(a.d, op, a.d.CreateSubscription(ctx, topic, name, cfg))
}

// DeleteTopic deletes a topic.
func (a *Admin) DeleteTopic(ctx context.Context, name string) error {
	return wrapDriver(a.d, "mq.Admin.DeleteTopic", a.d.DeleteTopic(ctx, name))
}

// DeleteSubscription deletes a subscription.
func (a *Admin) DeleteSubscription(ctx context.Context, topic, name string) error {
	return wrapDriver(a.d, "mq.Admin.DeleteSubscription", a.d.DeleteSubscription(ctx, topic, name))
}

// As exposes the driver's native admin client.
func (a *Admin) As(i any) bool { return a.d.As(i) }

// Close releases the admin's resources.
func (a *Admin) Close() error { return wrapDriver(a.d, "mq.Admin.Close", a.d.Close()) }
