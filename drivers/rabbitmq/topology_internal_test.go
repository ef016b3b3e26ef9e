package rabbitmq

import (
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestBucketNeverEarlyAndAtMostAQuarterLate(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 99 * time.Millisecond, 100 * time.Millisecond, 101 * time.Millisecond,
		119 * time.Millisecond, 121 * time.Millisecond, 999 * time.Millisecond, time.Second, 1001 * time.Millisecond,
		2 * time.Second, 7 * time.Second, 81 * time.Second, time.Hour, 49 * 24 * time.Hour} {
		b := bucket(d)
		if b < d {
			t.Errorf("bucket(%v) = %v: earlier than asked", d, b)
		}
		if b < minBucket {
			t.Errorf("bucket(%v) = %v below the minimum %v", d, b, minBucket)
		}
		if d > minBucket && float64(b) > 1.25*float64(d) {
			t.Errorf("bucket(%v) = %v: more than 25 %% late", d, b)
		}
	}
	if got := bucket(2 * time.Second); got != 2*time.Second {
		t.Errorf("bucket(2s) = %v, want exactly 2s", got)
	}
	if got := bucket(100 * 24 * time.Hour); got != maxBucket {
		t.Errorf("bucket(100 days) = %v, want the maximum TTL %v", got, maxBucket)
	}
}

func TestAllBucketsAreSortedAndCoverBucket(t *testing.T) {
	all := allBuckets()
	if !slices.IsSorted(all) || all[0] != minBucket || all[len(all)-1] != maxBucket {
		t.Fatalf("allBuckets = %v", all)
	}
	for _, d := range []time.Duration{time.Millisecond, 333 * time.Millisecond, 17 * time.Second, 3 * time.Hour, 40 * 24 * time.Hour} {
		if !slices.Contains(all, bucket(d)) {
			t.Errorf("bucket(%v) = %v is not in allBuckets", d, bucket(d))
		}
	}
}

func TestHoldingQueueNames(t *testing.T) {
	w := waitQueue("orders.pay", 1500*time.Millisecond)
	d := delayQueue("orders", 2*time.Second)
	if w != "orders.pay.portmq-wait-1500ms" || d != "orders.portmq-delay-2000ms" {
		t.Errorf("names %q %q", w, d)
	}
	if !isHoldingQueue(w) || !isHoldingQueue(d) || isHoldingQueue("orders.pay") || isHoldingQueue("orders.pay.dlq") {
		t.Error("isHoldingQueue misclassifies")
	}
}

func TestQueueArgsAlwaysPairDeliveryLimitWithDeadLetterExchange(t *testing.T) {
	q := queueSpec{name: "q", maxAttempts: 3, deadLetter: "q.dlq", ordered: true}
	a := q.args(3)
	if a[argDeliveryLimit] != int64(2) || a[argDLX] != "q.dlq" || a[argDLRK] != "portmq.max-attempts.3" ||
		a[argDLStrategy] != "at-least-once" || a[amqp.QueueOverflowArg] != amqp.QueueOverflowRejectPublish ||
		a[amqp.SingleActiveConsumerArg] != true || a[amqp.QueueTypeArg] != amqp.QueueTypeQuorum {
		t.Errorf("args = %v", a)
	}
	plain := (&queueSpec{name: "q"}).args(3)
	if len(plain) != 1 {
		t.Errorf("plain queue args on RabbitMQ 3 = %v, want only the queue type", plain)
	}
	if v4 := (&queueSpec{name: "q"}).args(4); v4[argDeliveryLimit] != int64(-1) {
		t.Errorf("plain queue args on RabbitMQ 4 = %v, want the default delivery limit turned off", v4)
	}
	if v4 := q.args(4); v4[argDeliveryLimit] != int64(2) {
		t.Errorf("args on RabbitMQ 4 = %v, want the limit of max attempts", v4)
	}
	h := holdingArgs(1500*time.Millisecond, "", "q")
	if h[amqp.QueueMessageTTLArg] != int64(1500) || h[argDLRK] != "q" || h[amqp.QueueTTLArg] != int64(63000) {
		t.Errorf("holding args = %v", h)
	}
}
