package errs

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
)

var errLocal = Kind("local closed", ErrClosed)

func init() { Register(ErrClosed, ErrCorrupt, ErrTooLarge, errLocal, io.EOF) }

func TestKindIsItsBase(t *testing.T) {
	err := fmt.Errorf("get: %w", errLocal)
	if !errors.Is(err, errLocal) || !errors.Is(err, ErrClosed) {
		t.Fatalf("%v: want both errLocal and ErrClosed", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v is not ErrCorrupt", err)
	}
	if Kind("x", ErrClosed) == Kind("x", ErrClosed) {
		t.Fatal("two Kind calls must make distinct sentinels")
	}
}

func TestRoundtrip(t *testing.T) {
	err := fmt.Errorf("a: %w", errors.Join(fmt.Errorf("b: %w", errLocal), io.EOF, syscall.ENOENT))
	got := Roundtrip(err)
	for _, want := range []error{errLocal, ErrClosed, io.EOF, syscall.ENOENT} {
		if !errors.Is(got, want) {
			t.Errorf("roundtrip of %v: errors.Is(%v) false", err, want)
		}
	}
	if got.Error() != err.Error() {
		t.Errorf("text %q, want %q", got.Error(), err.Error())
	}
	if Rebuild([]string{"nonsense", "errno:x", "*errors.errorString:unknown"}) != nil {
		t.Error("unknown keys must be skipped")
	}
}

func TestKeysBounded(t *testing.T) {
	var many []error
	for i := range 100 {
		e := Kind(fmt.Sprint("e", i), ErrCorrupt)
		Register(e)
		many = append(many, e)
	}
	if n := len(Keys(errors.Join(many...))); n != MaxKeys {
		t.Fatalf("%d keys, want %d", n, MaxKeys)
	}
}

func TestSameTextDistinctValues(t *testing.T) {
	a, b := errors.New("same text"), errors.New("same text")
	Register(a, b, a)
	if got := Roundtrip(fmt.Errorf("x: %w", b)); !errors.Is(got, b) || errors.Is(got, a) {
		t.Fatalf("the second of two same-text sentinels must travel as itself: %v", got)
	}
	if got := Roundtrip(a); !errors.Is(got, a) || errors.Is(got, b) {
		t.Fatalf("the first must travel as itself: %v", got)
	}
}
