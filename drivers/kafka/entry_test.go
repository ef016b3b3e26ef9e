package kafka

import "testing"

func TestFifoPushFrontGoesFirst(t *testing.T) {
	var q fifo
	es := make([]entry, 5)
	for i := range es {
		es[i].off = int64(i)
	}
	q.pushFront(&es[1]) // into an empty queue
	q.push(&es[2])
	q.pushFront(&es[0]) // no popped slot free: shifts
	q.push(&es[3])
	if e := q.pop(); e.off != 0 {
		t.Fatalf("first pop = %d, want 0", e.off)
	}
	q.pushFront(&es[4]) // into the slot the pop freed
	var got []int64
	for q.len() > 0 {
		got = append(got, q.pop().off)
	}
	if want := []int64{4, 1, 2, 3}; len(got) != len(want) || got[0] != 4 || got[1] != 1 || got[2] != 2 || got[3] != 3 {
		t.Errorf("order %v, want %v", got, want)
	}
}
