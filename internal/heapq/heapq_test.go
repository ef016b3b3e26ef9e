package heapq

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type item struct {
	key, idx int
}

func newHeap() Heap[*item] {
	return New(func(a, b *item) bool { return a.key < b.key }, func(x *item, i int) { x.idx = i })
}

func TestPopReturnsItemsInOrderAndKeepsIndexes(t *testing.T) {
	h := newHeap()
	r := rand.New(rand.NewPCG(1, 2))
	var all []*item
	for range 500 {
		it := &item{key: r.IntN(100)}
		all = append(all, it)
		h.Push(it)
	}
	// Remove a third from the middle, change the key of another third.
	removed := map[*item]bool{}
	for k, it := range all {
		switch k % 3 {
		case 0:
			if h.items[it.idx] != it {
				t.Fatalf("item %d has index %d, the heap holds another there", k, it.idx)
			}
			h.Remove(it.idx)
			removed[it] = true
			if it.idx != -1 {
				t.Fatalf("removed item has index %d, want -1", it.idx)
			}
		case 1:
			it.key = r.IntN(100)
			h.Fix(it.idx)
		}
	}
	var got []int
	for h.Len() > 0 {
		if p := h.Peek(); p != h.items[0] {
			t.Fatal("Peek is not the root")
		}
		it := h.Pop()
		if removed[it] || it.idx != -1 {
			t.Fatalf("popped a removed item or one with index %d", it.idx)
		}
		got = append(got, it.key)
	}
	if len(got) != len(all)-len(removed) || !slices.IsSorted(got) {
		t.Fatalf("popped %d keys, sorted %v; want %d sorted", len(got), slices.IsSorted(got), len(all)-len(removed))
	}
}

func TestRemoveLastAndOnly(t *testing.T) {
	h := newHeap()
	a, b := &item{key: 1}, &item{key: 2}
	h.Push(a)
	h.Push(b)
	if got := h.Remove(b.idx); got != b || h.Len() != 1 {
		t.Fatalf("Remove(last) = %v, len %d", got, h.Len())
	}
	if got := h.Remove(a.idx); got != a || h.Len() != 0 {
		t.Fatalf("Remove(only) = %v, len %d", got, h.Len())
	}
}

func TestAtAndClear(t *testing.T) {
	h := newHeap()
	items := []*item{{key: 3}, {key: 1}, {key: 2}}
	for _, it := range items {
		h.Push(it)
	}
	for _, it := range items {
		if h.At(it.idx) != it {
			t.Fatalf("At(%d) is not the item told that index", it.idx)
		}
	}
	got := h.Clear()
	if h.Len() != 0 || len(got) != len(items) {
		t.Fatalf("Clear returned %d items and left %d; want %d and 0", len(got), h.Len(), len(items))
	}
	for _, it := range items {
		if it.idx != -1 || !slices.Contains(got, it) {
			t.Fatalf("after Clear an item has index %d or was not returned", it.idx)
		}
	}
	h.Push(items[0])
	if h.Len() != 1 || h.Peek() != items[0] {
		t.Fatal("a cleared heap does not take new items")
	}
}

func TestDrainedHeapShrinks(t *testing.T) {
	h := newHeap()
	var all []*item
	for k := range 10000 {
		it := &item{key: k}
		all = append(all, it)
		h.Push(it)
	}
	for _, it := range all[:9990] {
		h.Remove(it.idx)
	}
	if c := cap(h.items); c > minShrink {
		t.Fatalf("a heap drained to %d items keeps a capacity of %d, want at most %d", h.Len(), c, minShrink)
	}
	for k, want := range all[9990:] {
		if got := h.Pop(); got != want {
			t.Fatalf("pop %d after shrinking: key %d, want %d", k, got.key, want.key)
		}
	}
}
