package offsets

import (
	"slices"
	"testing"
)

type ent struct {
	off  int64
	done bool
}

func (e *ent) Offset() int64 { return e.off }
func (e *ent) Settled() bool { return e.done }

func TestFrontierIsTheFirstUnsettledOffset(t *testing.T) {
	w := New[*ent]()
	if f := w.Frontier(); f != -1 {
		t.Fatalf("empty window: frontier %d, want -1", f)
	}
	es := make([]*ent, 5)
	for i := range es {
		es[i] = &ent{off: int64(10 + 2*i)} // gaps, as compaction or transactions leave
		w.Push(es[i])
	}
	if f := w.Frontier(); f != 10 {
		t.Fatalf("nothing settled: frontier %d, want 10", f)
	}
	for _, i := range []int{1, 3} { // settled out of order: the front is still unsettled
		es[i].done = true
		w.Advance()
		if f := w.Frontier(); f != 10 {
			t.Fatalf("after settling %d: frontier %d, want 10", es[i].off, f)
		}
	}
	es[0].done = true
	w.Advance()
	if f := w.Frontier(); f != 14 {
		t.Fatalf("after settling the prefix 10-12: frontier %d, want 14", f)
	}
	if got := w.Pending(); !slices.Equal(got, es[2:]) {
		t.Fatalf("pending %v, want the entries from 14", got)
	}
	es[2].done, es[4].done = true, true
	w.Advance()
	if f := w.Frontier(); f != 19 || len(w.Pending()) != 0 {
		t.Fatalf("all settled: frontier %d, %d pending; want 19 (after the newest), 0", f, len(w.Pending()))
	}
	w.Push(&ent{off: 30})
	if f := w.Frontier(); f != 30 {
		t.Fatalf("after a new entry: frontier %d, want 30", f)
	}
}

func TestResetStartsAtTheSeekPosition(t *testing.T) {
	w := New[*ent]()
	w.Push(&ent{off: 5})
	w.Reset(42)
	if f := w.Frontier(); f != 42 || len(w.Pending()) != 0 {
		t.Fatalf("after Reset(42): frontier %d, %d pending; want 42, 0", f, len(w.Pending()))
	}
	w.Push(&ent{off: 42, done: true})
	w.Advance()
	if f := w.Frontier(); f != 43 {
		t.Fatalf("frontier %d, want 43", f)
	}
	w.Reset(-1)
	if f := w.Frontier(); f != -1 {
		t.Fatalf("after Reset(-1): frontier %d, want -1", f)
	}
}

// TestLongWindowReusesItsSpace settles a long run one at a time from the
// front while entries keep coming: the window keeps no settled entry and
// its slice does not grow without bound.
func TestLongWindowReusesItsSpace(t *testing.T) {
	w := New[*ent]()
	var es []*ent
	for i := range 10000 {
		e := &ent{off: int64(i)}
		es = append(es, e)
		w.Push(e)
		if i >= 100 {
			es[i-100].done = true
			w.Advance()
		}
		if f, want := w.Frontier(), int64(max(i-99, 0)); f != want {
			t.Fatalf("at %d: frontier %d, want %d", i, f, want)
		}
	}
	if n := len(w.Pending()); n != 100 {
		t.Fatalf("%d pending, want 100", n)
	}
	if c := cap(w.ents); c > 4096 {
		t.Fatalf("window capacity %d for 100 pending entries", c)
	}
	for _, e := range w.ents[:w.head] {
		if e != nil {
			t.Fatal("a dropped entry is still referenced")
		}
	}
}
