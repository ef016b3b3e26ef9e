// Package redeliver is the one retry-destination mechanism of portmq's
// drivers: what a backend without a native nack delay or attempt count
// (Kafka, the Go CDK bridge, and Kinesis next) does to give a message
// back later and one attempt on. Instead of returning the delivery to the
// backend, the driver sends a copy of the message to a retry destination
// (a retry topic, the subscribed topic itself, a stream) carrying what the
// backend cannot count, then acknowledges the original. The same holds for
// dead-lettering by copy: the copy goes to the dead-letter destination
// with portmq's dead-letter metadata.
//
// The package is written in terms of driver.Message and a send function,
// not of any backend's types: the driver turns its received record into a
// driver.Message, asks Copy or DeadLetter for the copy, and turns that
// back into a record of its own when it sends.
//
// # What a copy carries
//
// A copy carries these attributes besides the original's (all with the
// "portmq-" prefix that users cannot set); Parse and Carried.Read remove
// them from a received message's attributes and return their values:
//
//	AttrID         the original's message ID, so that every copy has it
//	AttrDelivered  how many times the message was delivered before the
//	               copy was written (decimal); its next attempt is one more
//	AttrDue        not to be delivered before: Unix milliseconds, rounded up
//	AttrPublished  the original's publish time: Unix milliseconds
//	AttrFor        the subscription the copy is for, when the retry
//	               destination is shared: other subscriptions drop it
//
// A dead-letter copy carries driver.AttrDeadLetterReason (cut to
// MaxReasonLen bytes of UTF-8), driver.AttrAttempts and driver.AttrSource
// instead, which readers of the dead-letter destination see as
// attributes; it does not keep the original's ID (it is a new message).
//
// Anyone can write attributes, so reading them is defensive: a value that
// does not parse (not a number, out of range, negative) is ignored as if
// the attribute were absent, a delivery count is capped at MaxDelivered,
// and nothing panics.
//
// # The sequence
//
// Move sends the copies (the send function must return only once the
// backend confirmed them: a publisher confirm, acks=all) and then settles
// each original through the driver: acknowledged when its copy was
// confirmed, given back to the backend (or kept in memory) when it was
// not. Per-item results go through driver.SetItemError, so a batch where
// some copies fail returns a *driver.BatchError naming them.
//
// The copy and the acknowledgement are two steps no backend makes
// atomic: a crash (or a lost connection) between them leaves both the
// copy and the original, so the message is delivered once more than it
// should be, a duplicate, never a loss. A failed copy leaves the original
// unacknowledged, so it is not lost either.
package redeliver
