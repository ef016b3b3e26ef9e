package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"testing"
)

func TestErrorAsFindsTheChainsErrorAndNeverPanics(t *testing.T) {
	pe := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	err := &Error{Code: NotFound, Msg: "x: open", Err: fmt.Errorf("wrapped: %w", pe)}
	var got *fs.PathError
	if !ErrorAs(err, &got) || got != pe {
		t.Fatalf("ErrorAs(**fs.PathError) = %v, want the chain's *fs.PathError", got)
	}
	var de *Error
	if !ErrorAs(err, &de) || de != err {
		t.Fatal("ErrorAs(**Error) did not find the error itself")
	}
	var ifc interface{ NoSuchMethod() }
	if ErrorAs(err, &ifc) {
		t.Fatal("ErrorAs found an interface nothing in the chain implements")
	}
	var ne net.Error
	if ErrorAs(err, &ne) {
		t.Fatal("ErrorAs(*net.Error) reported true for a chain without one")
	}
	var nilPtr **fs.PathError
	for _, target := range []any{nil, 42, got, new(int), nilPtr, "s"} {
		if ErrorAs(err, target) {
			t.Errorf("ErrorAs(%T) reported true", target)
		}
	}
	if ErrorAs(nil, &got) {
		t.Error("ErrorAs(nil) reported true")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("test chain broken")
	}
}
