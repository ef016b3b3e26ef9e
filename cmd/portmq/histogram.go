package main

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// histogram records durations in log-linear buckets, as HdrHistogram
// does: every power of two is split into subBuckets linear buckets, so a
// recorded value is known to within 1/subBuckets (0.8%) of itself, from
// 1ns to the largest int64, in a fixed 58 KiB. It is not safe for
// concurrent use: give each goroutine its own and merge them.
type histogram struct {
	counts [64 * subBuckets]int64
	n      int64
	min    int64
	max    int64
	sum    float64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits // buckets per power of two
)

// bucket returns the index of the bucket holding v ≥ 0.
func bucket(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (subBits + 1)
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// highest returns the largest value that falls in bucket i.
func highest(i int) int64 {
	if i < 2*subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	sub := int64(i%subBuckets + subBuckets)
	hi := (sub+1)<<shift - 1
	if hi < 0 { // the last bucket ends at the largest int64
		return math.MaxInt64
	}
	return hi
}

func (h *histogram) record(d time.Duration) { h.recordN(d, 1) }

// recordN records d n times (n ≥ 0): the messages of one batch, which all
// took the same time.
func (h *histogram) recordN(d time.Duration, n int) {
	if n <= 0 {
		return
	}
	v := max(int64(d), 0)
	h.counts[bucket(v)] += int64(n)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n += int64(n)
	h.sum += float64(v) * float64(n)
}

// lockedHistogram is a histogram that goroutines share: the many senders
// of one producer, which would need 58 KiB each otherwise.
type lockedHistogram struct {
	mu sync.Mutex
	h  histogram
}

func (l *lockedHistogram) recordN(d time.Duration, n int) {
	l.mu.Lock()
	l.h.recordN(d, n)
	l.mu.Unlock()
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at quantile q (0..1): the highest value of
// the bucket holding the ceil(q·n)-th smallest value, but never more than
// the largest value recorded. It returns 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(highest(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
