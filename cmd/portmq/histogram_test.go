package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBucketsAreContiguousAndTight(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := bucket(v)
		if i < prev {
			t.Errorf("bucket(%d) = %d, below the bucket of a smaller value (%d)", v, i, prev)
		}
		prev = i
		if hi := highest(i); hi < v || float64(hi-v) > float64(v)/subBuckets+1 {
			t.Errorf("value %d: bucket %d ends at %d, want within 1/%d above it", v, i, hi, subBuckets)
		}
		if i > 0 && highest(i-1) >= v {
			t.Errorf("value %d: the bucket before %d ends at %d, not below it", v, i, highest(i-1))
		}
	}
}

func TestHistogramQuantilesMatchTheSortedValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b histogram
	var vals []int64
	for i := range 100000 {
		// A long tail: most values near 1ms, some up to seconds.
		v := int64(math.Exp(r.NormFloat64()*1.5) * float64(time.Millisecond))
		vals = append(vals, v)
		if i%2 == 0 {
			a.record(time.Duration(v))
		} else {
			b.record(time.Duration(v))
		}
	}
	a.merge(&b)
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := int64(a.quantile(q))
		if got < want || float64(got-want) > float64(want)/subBuckets {
			t.Errorf("quantile %v = %v, want %v within 1/%d above", q, time.Duration(got), time.Duration(want), subBuckets)
		}
	}
	if a.quantile(1) != time.Duration(vals[len(vals)-1]) || a.n != 100000 {
		t.Errorf("max %v, n %d; want %v, 100000", a.quantile(1), a.n, time.Duration(vals[len(vals)-1]))
	}
	var empty histogram
	if empty.quantile(0.5) != 0 {
		t.Error("an empty histogram has a quantile")
	}
}

func TestHistogramRecordNIsNRecords(t *testing.T) {
	var a, b histogram
	for i, d := range []time.Duration{3 * time.Millisecond, 40 * time.Microsecond, 0, time.Second} {
		n := i + 1
		a.recordN(d, n)
		for range n {
			b.record(d)
		}
	}
	a.recordN(time.Hour, 0) // records nothing
	if a != b {
		t.Errorf("recordN: n %d, min %d, max %d, sum %v; want what n records give: n %d, min %d, max %d, sum %v",
			a.n, a.min, a.max, a.sum, b.n, b.min, b.max, b.sum)
	}
}
