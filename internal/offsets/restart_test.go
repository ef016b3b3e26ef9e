package offsets

import "testing"

func TestRestartCarriesTheCountOfTheFirstMessage(t *testing.T) {
	r := NewRestart()
	if n := r.At(-1); n != 0 {
		t.Fatalf("before any read: At(-1) = %d, want 0", n)
	}
	r.Left(100, 2) // the previous reader delivered offset 100 twice
	if n := r.Read(100); n != 2 {
		t.Fatalf("first read at the committed position: %d earlier deliveries, want 2", n)
	}
	r.Left(100, 7) // too late: a message was read
	if n := r.Read(101); n != 0 {
		t.Fatalf("a later read: %d earlier deliveries, want 0", n)
	}
	if n := r.At(100); n != 2 {
		t.Fatalf("At(100) before a hand-out = %d, want the 2 left", n)
	}
	if !r.Delivered(100, 3) {
		t.Fatal("the first message's hand-out did not ask for a commit")
	}
	if r.Delivered(101, 1) {
		t.Fatal("another message's hand-out asked for a commit")
	}
	if n := r.At(100); n != 3 {
		t.Fatalf("At(100) = %d, want 3", n)
	}
	if n := r.At(101); n != 0 {
		t.Fatalf("At(101) = %d, want 0", n)
	}
}

func TestRestartIgnoresACountForAnotherPosition(t *testing.T) {
	r := NewRestart()
	r.Left(50, 4) // the position moved on (retention, a seek) since
	if n := r.Read(60); n != 0 {
		t.Fatalf("first read elsewhere: %d earlier deliveries, want 0", n)
	}
	if n := r.At(60); n != 0 {
		t.Fatalf("At(60) = %d, want 0", n)
	}
	if !r.Delivered(60, 1) || r.At(60) != 1 {
		t.Fatalf("after the first hand-out: At(60) = %d, want 1", r.At(60))
	}
	fresh := NewRestart()
	if n := fresh.Read(0); n != 0 {
		t.Fatalf("nothing left: %d, want 0", n)
	}
}
