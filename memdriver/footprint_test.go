package memdriver

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/portmq/portmq/clock"
	"github.com/portmq/portmq/mq/driver"
)

// heapAlloc returns the live heap after two collections.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSpikeLeavesNoFootprint fills a backlog of 1 M messages of 256 B,
// drains it (receive and ack) and checks that the heap returns to within
// 20 MB of its size before. Before the free list was bounded, about 240 MB
// stayed: every entry ever allocated, kept for reuse. The engine and its
// handles stay open (and referenced) until the end, so what is measured
// is what a drained subscription keeps.
func TestSpikeLeavesNoFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 1 M message backlog; skipped with -short")
	}
	const (
		backlog = 1_000_000
		slack   = 20 << 20
		window  = time.Minute
	)
	for _, c := range []struct {
		name string
		cfg  driver.SubscriptionConfig
		// each message gets a DedupID, a Key out of keys (ordered) and
		// a Delay
		dedup, delay bool
		keys         int
	}{
		{name: "plain"},
		// The keys map, the delayed heap and the dedup records grow to
		// the backlog too.
		{name: "ordered-delayed-dedup", cfg: driver.SubscriptionConfig{Ordered: true}, dedup: true, delay: true, keys: backlog},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewFake(t0)
			e := New(&Options{Clock: clk})
			var tcfg *driver.TopicConfig
			if c.dedup {
				tcfg = &driver.TopicConfig{DedupWindow: window}
			}
			tp, err := e.OpenTopic("spike", tcfg)
			if err != nil {
				t.Fatal(err)
			}
			s, err := e.OpenSubscription("spike", "s", &c.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			body := make([]byte, 256)
			msgs := make([]driver.Message, 64)
			dst := make([]driver.Message, 64)
			ids := make([]driver.AckID, 64)
			// One message through first, so that lazily built state
			// exists in the baseline.
			cycle := func(n int) {
				sent := 0
				for sent < n {
					k := min(len(msgs), n-sent)
					for i := range k {
						msgs[i] = driver.Message{Body: body}
						if c.dedup {
							msgs[i].DedupID = "d" + strconv.Itoa(sent+i)
						}
						if c.keys > 0 {
							msgs[i].Key = "k" + strconv.Itoa((sent+i)%c.keys)
						}
						if c.delay {
							msgs[i].Delay = time.Second
						}
					}
					if err := tp.SendBatch(ctx, msgs[:k]); err != nil {
						t.Fatal(err)
					}
					sent += k
				}
				clear(msgs)
				if c.delay {
					clk.Advance(time.Second)
				}
				for got := 0; got < n; {
					k, err := s.ReceiveBatch(ctx, dst)
					if err != nil || k == 0 {
						t.Fatalf("ReceiveBatch after %d of %d: %d, %v", got, n, k, err)
					}
					for i := range k {
						ids[i] = dst[i].AckID
					}
					if err := s.Ack(ctx, ids[:k]); err != nil {
						t.Fatal(err)
					}
					got += k
				}
				clear(dst)
				clear(ids)
				if c.dedup {
					// Dedup records live for their window; they are
					// dropped by the first send after it.
					clk.Advance(window)
					if err := tp.SendBatch(ctx, []driver.Message{{Body: body}}); err != nil {
						t.Fatal(err)
					}
					if n, err := s.ReceiveBatch(ctx, dst[:1]); n != 1 || err != nil {
						t.Fatal(n, err)
					}
					if err := s.Ack(ctx, []driver.AckID{dst[0].AckID}); err != nil {
						t.Fatal(err)
					}
					clear(dst)
				}
			}
			cycle(1)
			before := heapAlloc()
			cycle(backlog)
			after := heapAlloc()
			runtime.KeepAlive(e)
			runtime.KeepAlive(tp)
			runtime.KeepAlive(s)
			t.Logf("heap before %.1f MB, after draining %d messages %.1f MB", mb(before), backlog, mb(after))
			if after > before+slack {
				t.Errorf("heap grew by %.1f MB after a drained backlog of %d, want at most %d MB",
					mb(after)-mb(before), backlog, slack>>20)
			}
			_ = tp.Close()
			_ = s.Close()
		})
	}
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }

// TestRingKeepsOrderWhileResizing pushes and pops across growth, wrap-around
// and shrinking, checking FIFO order and that a drained ring's buffer
// shrinks.
func TestRingKeepsOrderWhileResizing(t *testing.T) {
	var r ring
	es := make([]entry, 1<<14) // more than the ring ever holds
	in, out := 0, 0
	pop := func() {
		if e := r.pop(); e != &es[out%len(es)] {
			t.Fatalf("pop %d: wrong entry", out)
		}
		out++
	}
	for round := range 4 {
		for range 2500 * (round + 1) {
			r.push(&es[in%len(es)])
			in++
			if in%3 == 0 {
				pop()
			}
		}
		for r.len() > 0 {
			pop()
		}
		if len(r.buf) > minShrink {
			t.Fatalf("round %d: drained ring keeps %d slots, want at most %d", round, len(r.buf), minShrink)
		}
	}
}

// TestFreeListIsBounded checks that the free list gives a drained
// backlog's entries back within two epochs and keeps those of a backlog
// that comes back soon.
func TestFreeListIsBounded(t *testing.T) {
	var p entryPool
	var s subscription
	fill := func(n int) []*entry {
		es := make([]*entry, n)
		for i := range es {
			es[i] = p.get(&s)
		}
		return es
	}
	drain := func(es []*entry) {
		for _, e := range es {
			p.put(e)
		}
	}
	// A backlog that comes back within an epoch reuses its entries.
	first := fill(epochPuts / 2)
	drain(first)
	again := fill(epochPuts / 2)
	seen := make(map[*entry]bool, len(first))
	for _, e := range first {
		seen[e] = true
	}
	for _, e := range again {
		if !seen[e] {
			t.Fatal("a backlog refilled within an epoch allocated new entries")
		}
		if e.state != stFree || e.body != nil || e.s != &s {
			t.Fatalf("reused entry not reset: %+v", e)
		}
	}
	drain(again)
	// A large backlog drained keeps at most two epochs' worth.
	drain(fill(10 * epochPuts))
	if len(p.free) > 2*epochPuts || p.live != 0 {
		t.Fatalf("drained: %d free, %d live; want at most %d free", len(p.free), p.live, 2*epochPuts)
	}
	// Two epochs of a trickle later, minFree.
	for range 2 * epochPuts {
		p.put(p.get(&s))
	}
	if len(p.free) > minFree {
		t.Fatalf("after two epochs of one in flight: %d free, want at most %d", len(p.free), minFree)
	}
}
