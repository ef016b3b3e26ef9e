package keyhold

import (
	"strconv"
	"testing"
)

func TestOneOwnerPerKeyInArrivalOrder(t *testing.T) {
	var h Hold[int]
	if !h.Claim("a", 1) || !h.Claim("b", 10) {
		t.Fatal("the first item of a key did not become its owner")
	}
	if h.Claim("a", 2) || h.Claim("a", 3) {
		t.Fatal("a later item of a busy key became its owner")
	}
	if h.Waiting() != 2 {
		t.Fatalf("Waiting() = %d with two items behind a's owner, want 2", h.Waiting())
	}
	if _, ok := h.Done("a", 3); ok {
		t.Fatal("Done by an item that does not own the key handed the key on")
	}
	for _, want := range []int{2, 3} {
		prev := want - 1
		next, ok := h.Done("a", prev)
		if !ok || next != want {
			t.Fatalf("Done(a, %d) = %d, %v; want %d, true", prev, next, ok, want)
		}
	}
	if h.Waiting() != 0 {
		t.Fatalf("Waiting() = %d once every queued item took over, want 0", h.Waiting())
	}
	if _, ok := h.Done("a", 3); ok || h.Keys() != 1 {
		t.Fatalf("the last owner's Done left %d keys, next %v; want key a free", h.Keys(), ok)
	}
	if !h.Claim("a", 4) {
		t.Fatal("a free key was not claimed")
	}
	h.Reset()
	if h.Keys() != 0 || !h.Claim("b", 11) {
		t.Fatal("Reset did not free every key")
	}
}

func TestManyKeysComeAndGo(t *testing.T) {
	var h Hold[int]
	for i := range 5000 {
		h.Claim(strconv.Itoa(i), i)
	}
	for i := range 5000 {
		h.Done(strconv.Itoa(i), i)
	}
	if h.Keys() != 0 || h.peak > minShrink {
		t.Fatalf("%d keys left, peak %d: the map was not shrunk", h.Keys(), h.peak)
	}
}

func TestClaimingAFreedKeyAllocatesNothing(t *testing.T) {
	var h Hold[int]
	h.Claim("a", 1)
	h.Claim("a", 2)
	h.Done("a", 1)
	h.Done("a", 2)
	if n := testing.AllocsPerRun(100, func() {
		h.Claim("a", 1)
		h.Claim("a", 2)
		h.Done("a", 1)
		h.Done("a", 2)
	}); n != 0 {
		t.Fatalf("a claim, a wait and their Done on a freed key allocated %v times, want 0", n)
	}
}
