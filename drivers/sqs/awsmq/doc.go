// Package awsmq holds what portmq's sqs and sns drivers share: the
// connection parameters of their URLs and the aws.Config built from them,
// the classification of AWS errors into portmq error codes, and the wire
// format that carries a portmq message (binary body, up to 32 attributes,
// Key, DedupID, ID) in an SQS message or an SNS publication.
//
// Applications do not import it; it is public so that the sns driver, and
// programs outside portmq that must read what portmq sends, can use it.
//
// # Wire format
//
// A body that is non-empty UTF-8 made only of the characters SQS accepts
// (tab, line feed, carriage return, U+0020 to U+D7FF, U+E000 to U+FFFD,
// U+10000 and above) is sent as it is. Any other body is sent base64
// encoded (standard encoding) with the attribute portmq-body=base64, and an
// empty body as "-" with portmq-body=empty.
//
// Attributes travel as SQS/SNS message attributes of type String, one per
// portmq attribute, so that other consumers can read them. SQS (and SNS raw
// delivery) allow at most 10 message attributes, names of A-Z a-z 0-9 _ - .
// and non-empty values, so an attribute goes natively only when its name
// and value qualify and, together with the others, fit in 10. The rest are
// packed into one attribute, portmq-packed, whose value is a JSON object
// of names to values, escaped to pure ASCII. Natively sent user attributes
// are preferred over portmq's own.
//
// portmq's own attributes are portmq-key (the ordering Key on a standard
// queue or topic, or one that is not a valid FIFO message group ID),
// portmq-dedup-id (likewise for DedupID), portmq-id (the message ID on SNS,
// where the ID SNS assigns is not the one subscribers see) and portmq-body.
// On FIFO queues and topics, Key is the MessageGroupId and DedupID the
// MessageDeduplicationId when they are valid IDs; portmq makes IDs that
// start with "portmq:" for the others (a hash of the key, or a random ID
// for a message without one) and carries the original in its attribute.
//
// The size of a message as SQS counts it (body plus each attribute's name,
// type and value) is checked against the queue's MaximumMessageSize before
// sending.
//
// Messages from other producers are read as they are: the body as bytes,
// String and Number attributes by value, Binary attributes base64 encoded,
// Key from MessageGroupId and DedupID from MessageDeduplicationId.
package awsmq
