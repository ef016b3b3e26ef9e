package gocloud

// ConnectionName is the name of the driver's AMQP connections, for the
// tests' simulated broker restart.
func ConnectionName() string { return connectionName }
