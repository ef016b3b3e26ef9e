package main

// Every portmq driver, so that the CLI opens any backend's URL.
import (
	_ "github.com/portmq/portmq/drivers/gcppubsub"
	_ "github.com/portmq/portmq/drivers/gocloud"
	_ "github.com/portmq/portmq/drivers/kafka"
	_ "github.com/portmq/portmq/drivers/postgres"
	_ "github.com/portmq/portmq/drivers/rabbitmq"
	_ "github.com/portmq/portmq/drivers/redis"
	_ "github.com/portmq/portmq/drivers/sns"
	_ "github.com/portmq/portmq/drivers/sqs"
	_ "github.com/portmq/portmq/drivers/watermill"
	_ "github.com/portmq/portmq/memdriver"
)
