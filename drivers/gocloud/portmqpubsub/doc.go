// Package portmqpubsub is a Go CDK pubsub driver over portmq.
package portmqpubsub
