package rabbitmq

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/portmq/portmq/mq/driver"
)

// The broker objects the driver declares. A topic is a durable fanout
// exchange; a subscription is a durable quorum queue bound to it. Delayed
// nacks wait in per-delay "wait" queues of the subscription and delayed
// sends in per-delay "delay" queues of the topic; both are quorum queues
// whose message TTL dead-letters the message back to where it belongs.

const (
	exchangeKind = amqp.ExchangeFanout

	dlqSuffix    = ".dlq"
	waitInfix    = ".portmq-wait-"
	delayInfix   = ".portmq-delay-"
	bucketSuffix = "ms"

	argDLX           = "x-dead-letter-exchange"
	argDLRK          = "x-dead-letter-routing-key"
	argDLStrategy    = "x-dead-letter-strategy"
	argDeliveryLimit = "x-delivery-limit"

	// minBucket is the shortest wait; shorter delays wait this long.
	minBucket = 100 * time.Millisecond
	// maxBucket is the longest TTL RabbitMQ takes (2^32-1 ms, 49.7 days).
	maxBucket = time.Duration(1<<32-1) * time.Millisecond
)

// ladder holds the mantissas of the delay buckets in each power of ten:
// successive steps differ by at most 25 %.
var ladder = [...]int64{10, 12, 15, 20, 25, 30, 40, 50, 60, 80}

// bucket rounds d up to the next delay bucket (never down, so a message
// is never delivered early). It returns maxBucket for d above it.
func bucket(d time.Duration) time.Duration {
	if d <= minBucket {
		return minBucket
	}
	if d >= maxBucket {
		return maxBucket
	}
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	// scale*ladder[i] walks 100, 120, 150, ... 800, 1000, 1200, ... ms.
	for scale := int64(10); ; scale *= 10 {
		for _, m := range ladder {
			if b := m * scale; b >= ms {
				return min(time.Duration(b)*time.Millisecond, maxBucket)
			}
		}
	}
}

// allBuckets lists every bucket, shortest first, for deleting wait and
// delay queues.
func allBuckets() []time.Duration {
	var out []time.Duration
	for scale := int64(10); ; scale *= 10 {
		for _, m := range ladder {
			b := time.Duration(m*scale) * time.Millisecond
			if b >= maxBucket {
				return append(out, maxBucket)
			}
			out = append(out, b)
		}
	}
}

func bucketName(base, infix string, b time.Duration) string {
	return base + infix + strconv.FormatInt(int64(b/time.Millisecond), 10) + bucketSuffix
}

// waitQueue names the queue where nacks of queue with delay bucket b wait.
func waitQueue(queue string, b time.Duration) string { return bucketName(queue, waitInfix, b) }

// delayQueue names the queue where sends to topic with delay bucket b wait.
func delayQueue(topic string, b time.Duration) string { return bucketName(topic, delayInfix, b) }

// isHoldingQueue reports whether name is a wait or delay queue: dead
// letters from it are portmq's own delays, not failures.
func isHoldingQueue(name string) bool {
	return strings.HasSuffix(name, bucketSuffix) && (strings.Contains(name, waitInfix) || strings.Contains(name, delayInfix))
}

// defaultDeadLetter names the dead-letter topic (and queue) of queue.
func defaultDeadLetter(queue string) string { return queue + dlqSuffix }

// queueSpec is how a subscription's queue is declared. Equal specs give
// equal declare arguments, so every handle of a queue declares it the same
// way and a different setting is reported by the broker.
type queueSpec struct {
	name        string
	maxAttempts int    // 0: unlimited
	deadLetter  string // dead-letter topic (exchange); "" none
	ordered     bool
}

// dlRoutingKey is the routing key of dead letters: it records the max
// attempts, so that a reader of the dead-letter queue can tell how many
// attempts a message had when the broker dead-lettered it by itself.
func dlRoutingKey(maxAttempts int) string {
	return dlKeyPrefix + strconv.Itoa(maxAttempts)
}

const dlKeyPrefix = "portmq.max-attempts."

// args returns the queue's declare arguments for a broker of the given
// major version.
func (q *queueSpec) args(major int) amqp.Table {
	t := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
	if q.deadLetter != "" {
		t[argDLX] = q.deadLetter
		t[argDLRK] = dlRoutingKey(q.maxAttempts)
		// At-least-once dead-lettering (RabbitMQ 3.10+) needs
		// reject-publish overflow; no length limit is set, so it never
		// rejects.
		t[argDLStrategy] = "at-least-once"
		t[amqp.QueueOverflowArg] = amqp.QueueOverflowRejectPublish
	}
	switch {
	case q.maxAttempts > 0:
		// The broker dead-letters once the delivery count exceeds the
		// limit: after limit+1 failed deliveries.
		t[argDeliveryLimit] = int64(q.maxAttempts - 1)
	case major >= 4:
		// RabbitMQ 4 gives quorum queues a delivery limit of 20 by
		// default (and drops the message without a dead-letter
		// exchange); -1 turns it off. RabbitMQ 3 has no default, and
		// would take -1 as "dead-letter on the first return".
		t[argDeliveryLimit] = int64(-1)
	}
	if q.ordered {
		t[amqp.SingleActiveConsumerArg] = true
	}
	return t
}

// holdingArgs returns the declare arguments of a wait or delay queue whose
// messages wait ttl and then go to exchange with routingKey ("" keeps the
// message's own).
func holdingArgs(ttl time.Duration, exchange, routingKey string) amqp.Table {
	t := amqp.Table{
		amqp.QueueTypeArg:       amqp.QueueTypeQuorum,
		amqp.QueueMessageTTLArg: int64(ttl / time.Millisecond),
		argDLX:                  exchange,
		argDLStrategy:           "at-least-once",
		amqp.QueueOverflowArg:   amqp.QueueOverflowRejectPublish,
		amqp.QueueTTLArg:        int64(holdingExpiry(ttl) / time.Millisecond),
	}
	if routingKey != "" {
		t[argDLRK] = routingKey
	}
	return t
}

// holdingExpiry is how long an unused wait or delay queue lives. A queue
// is "used" when it is declared again; the driver declares it again before
// publishing once half of this has passed, so that every message in it
// expires (after ttl) before the queue can.
func holdingExpiry(ttl time.Duration) time.Duration {
	e := 2*ttl + time.Minute
	return min(e, maxBucket)
}

// brokerMajor returns the major version the broker announced (3 if it
// cannot tell).
func brokerMajor(conn *amqp.Connection) int {
	v, _ := conn.Properties["version"].(string)
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err == nil && n > 0 {
		return n
	}
	return 3
}

// declareTopic declares the topic's exchange.
func declareTopic(ch *amqp.Channel, name string) error {
	return ch.ExchangeDeclare(name, exchangeKind, true, false, false, false, nil)
}

// A subscription belongs to one topic (rule 9), but a queue name is global
// to the vhost. So that a name reused on another topic is refused rather
// than merged (one queue bound to both exchanges), each queue declared
// with a topic is claimed for it: an internal exchange QUEUE.portmq-topic
// whose alternate-exchange argument names the topic. RabbitMQ checks that
// argument on every declare: declaring the claim with another topic fails
// with PRECONDITION_FAILED, before the queue is touched. The claim
// exchange routes nothing (no client may publish to an internal exchange,
// and nothing is bound to it). Deleting the subscription deletes it.

const (
	claimSuffix          = ".portmq-topic"
	argAlternateExchange = "alternate-exchange"
)

// claimExchange names the exchange that records the topic of queue.
func claimExchange(queue string) string {
	if name := queue + claimSuffix; len(name) <= 255 {
		return name
	}
	sum := sha256.Sum256([]byte(queue))
	return "portmq-topic-" + hex.EncodeToString(sum[:16])
}

// claimQueue records that queue belongs to topic, or fails with code
// FailedPrecondition if it belongs to another.
func claimQueue(ch *amqp.Channel, queue, topic string) error {
	err := ch.ExchangeDeclare(claimExchange(queue), amqp.ExchangeFanout, true, false, true, false, amqp.Table{argAlternateExchange: topic})
	return claimError(queue, topic, err)
}

// claimedBy reads the topic a refused claim names.
var claimedBy = regexp.MustCompile(`inequivalent arg 'alternate-exchange' for exchange '[^']*' in vhost '[^']*': received '[^']*' but current is '([^']*)'`)

func claimError(queue, topic string, err error) error {
	ae, ok := errors.AsType[*amqp.Error](err)
	if !ok || ae.Code != amqp.PreconditionFailed {
		return err
	}
	owner := "another topic"
	if m := claimedBy.FindStringSubmatch(ae.Reason); m != nil {
		owner = "topic " + strconv.Quote(m[1])
	}
	return &driver.Error{
		Code: driver.FailedPrecondition,
		Msg: "rabbitmq: subscription " + strconv.Quote(queue) + " belongs to " + owner + ", not to topic " + strconv.Quote(topic) +
			": on RabbitMQ a subscription is a queue and queue names are global to the vhost, so one name cannot serve two topics; give this one another name, or delete " +
			strconv.Quote(queue) + " first",
		Err: err,
	}
}

// declareQueue declares a subscription's queue, its dead-letter topic (and
// the default dead-letter queue), and unless topic is empty, the queue's
// claim for the topic (first), the topic and the binding of the queue to
// it (so subscribers may start before producers).
func declareQueue(ch *amqp.Channel, major int, topic string, q *queueSpec) error {
	if topic != "" {
		if err := claimQueue(ch, q.name, topic); err != nil {
			return err
		}
	}
	if q.deadLetter != "" {
		if err := declareTopic(ch, q.deadLetter); err != nil {
			return err
		}
		if q.deadLetter == defaultDeadLetter(q.name) {
			dlq := queueSpec{name: q.deadLetter}
			if err := declareQueue(ch, major, q.deadLetter, &dlq); err != nil {
				return err
			}
		}
	}
	if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args(major)); err != nil {
		return err
	}
	if topic == "" {
		return nil
	}
	if err := declareTopic(ch, topic); err != nil {
		return err
	}
	return ch.QueueBind(q.name, "", topic, false, nil)
}
