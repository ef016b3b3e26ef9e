package mq

import "github.com/portmq/portmq/mq/driver"

type Producer struct{}
type Subscription struct{}
type ProducerOption func()
type SubscriptionOption func()

func NewProducer(t driver.Topic, opts ...ProducerOption) (*Producer, error)             { return nil, nil }
func NewSubscription(s driver.Subscription, opts ...SubscriptionOption) (*Subscription, error) { return nil, nil }
