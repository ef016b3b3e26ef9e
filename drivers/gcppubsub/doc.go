// Package gcppubsub is the portmq driver for Google Cloud Pub/Sub.
package gcppubsub
