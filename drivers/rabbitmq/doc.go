// Package rabbitmq is the portmq driver for RabbitMQ (doc to be written).
package rabbitmq
