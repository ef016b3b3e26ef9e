// Package gocloud runs the Go CDK's pubsub drivers (gocloud.dev/pubsub,
// v0.47.0) behind portmq's API.
package gocloud
