package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/forkless-go/forkless/internal/wire"
)

func TestNames(t *testing.T) {
	for _, bad := range []string{"", "a b", "a\tb", "a\nb", "a\x00b", "a\xffb"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) = nil", bad)
		}
	}
	if err := CheckName("forkless/pool.worker"); err != nil {
		t.Error(err)
	}
}

func TestAddLookupRun(t *testing.T) {
	e := New("registry.test.double", func(_ context.Context, x int32) (int32, error) { return 2 * x, nil }, wire.Gob)
	if err := Add(e); err != nil {
		t.Fatal(err)
	}
	if err := Add(e); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Add: %v", err)
	}
	if err := Reserve("registry.test.reserved"); err != nil {
		t.Fatal(err)
	}
	if _, ok := Lookup("registry.test.reserved"); ok {
		t.Fatal("a reserved name is not runnable")
	}
	if err := Reserve("registry.test.reserved"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second Reserve: %v", err)
	}
	got, ok := Lookup("registry.test.double")
	if !ok {
		t.Fatal("not found")
	}
	arg, _ := wire.Encode(wire.Gob, int32(21), "argument")
	out, err := got.Run(context.Background(), arg)
	var r int32
	if err != nil || wire.Decode(wire.Gob, out, &r) != nil || r != 42 {
		t.Fatalf("Run: %v, %d", err, r)
	}
	if _, err := got.Run(context.Background(), arg[:3]); err == nil {
		t.Fatal("ran on 3 bytes of a 4-byte argument")
	}
}
