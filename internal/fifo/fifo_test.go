package fifo

import "testing"

func TestPopsInOrderAndCompacts(t *testing.T) {
	var q Queue[int]
	next, want := 0, 0
	for round := range 3 {
		for range 3000 {
			q.Push(next)
			next++
		}
		for range 2000 + round {
			if got := q.Pop(); got != want {
				t.Fatalf("Pop = %d, want %d", got, want)
			}
			want++
		}
		if q.Len() != next-want || len(q.buf) > 2*q.Len()+compactAt {
			t.Fatalf("round %d: len %d (want %d), slice %d", round, q.Len(), next-want, len(q.buf))
		}
	}
	for q.Len() > 0 {
		if got := q.Pop(); got != want {
			t.Fatalf("Pop = %d, want %d", got, want)
		}
		want++
	}
	if q.head != 0 || len(q.buf) != 0 {
		t.Fatal("an empty queue did not reset")
	}
}
