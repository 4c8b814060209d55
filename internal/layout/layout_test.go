package layout

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	A int32
	B [4]byte
}

type good struct {
	X  uint64
	In inner
	F  [3]float64
}

type badNested struct {
	X  int
	In struct {
		Y    int
		Name string
	}
}

func TestCheck(t *testing.T) {
	if _, err := Of[good](); err != nil {
		t.Fatalf("good type refused: %v", err)
	}
	cases := []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[badNested](), "field In.Name is a string"},
		{reflect.TypeFor[*int](), "it is a pointer"},
		{reflect.TypeFor[[]int](), "it is a slice"},
		{reflect.TypeFor[map[int]int](), "it is a map"},
		{reflect.TypeFor[struct{ E error }](), "field E is an interface"},
		{reflect.TypeFor[struct{ C [2]chan int }](), "field C[] is a channel"},
		{reflect.TypeFor[struct{ F func() }](), "field F is a func"},
	}
	for _, c := range cases {
		_, err := Check(c.t)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrNotPointerFree) {
			t.Errorf("Check(%v) = %v, want an error containing %q", c.t, err, c.want)
		}
	}
}

func TestFingerprintDistinguishes(t *testing.T) {
	a, _ := Of[int64]()
	b, _ := Of[float64]()
	c, _ := Of[int64]()
	if a.ID == b.ID || a.ID != c.ID {
		t.Fatalf("fingerprints: int64=%x float64=%x int64 again=%x", a.ID, b.ID, c.ID)
	}
}
