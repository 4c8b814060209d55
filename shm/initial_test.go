package shm_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

type initialArg struct {
	Value, Array shm.Handle
}

// readInitial runs in a child: it reads the parent's initial value and the
// array's last element through a negative index, and writes element -2.
var readInitial = spawn.Register("shm.readInitial", func(ctx context.Context, a initialArg) ([2]int64, error) {
	v, err := shm.OpenValue[int64](a.Value)
	if err != nil {
		return [2]int64{}, err
	}
	arr, err := shm.OpenArray[int64](a.Array)
	if err != nil {
		return [2]int64{}, err
	}
	x, _ := v.Load()
	last, err := arr.Get(-1)
	if err != nil {
		return [2]int64{}, err
	}
	if _, err := arr.Get(-arr.Len() - 1); !errors.Is(err, shm.ErrRange) {
		return [2]int64{}, fmt.Errorf("Get(-Len()-1) = %v, want ErrRange", err)
	}
	return [2]int64{x, last}, arr.Set(-2, 99)
})

// TestInitialValueAcrossProcesses: Python's Value('q', 7) and
// Array('q', [1, 2, 3]) as a child sees them, with negative indexes.
func TestInitialValueAcrossProcesses(t *testing.T) {
	r := newRegion(t, 1<<16)
	v, err := shm.NewValue(r, int64(7))
	if err != nil {
		t.Fatal(err)
	}
	arr, err := shm.NewArrayOf(r, []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readInitial.Run(testContext(t), initialArg{v.Handle(), arr.Handle()}, spawn.Share(r))
	if err != nil {
		t.Fatal(err)
	}
	if got != [2]int64{7, 3} {
		t.Fatalf("child read value %d and element -1 %d, want 7 and 3", got[0], got[1])
	}
	if s := arr.Slice(); s[1] != 99 {
		t.Fatalf("child's Set(-2, 99) left %v", s)
	}
}

func TestNewValueInitialRefusals(t *testing.T) {
	r := newRegion(t, 1<<16)
	if _, err := shm.NewValue(r, 1, 2); !errors.Is(err, shm.ErrSize) {
		t.Fatalf("NewValue with two initial values = %v, want ErrSize", err)
	}
	if _, err := shm.NewArrayOf(r, []int32{}); !errors.Is(err, shm.ErrSize) {
		t.Fatalf("NewArrayOf(empty) = %v, want ErrSize", err)
	}
	z, err := shm.NewValue[float64](r)
	if err != nil {
		t.Fatal(err)
	}
	if x, _ := z.Load(); x != 0 {
		t.Fatalf("NewValue without initial = %v, want 0", x)
	}
}

// A Value made with an initial value, as Python's Value('d', 2.5).
func ExampleNewValue() {
	r, err := shm.New(1 << 16)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	v, err := shm.NewValue(r, 2.5) // a shm.Value[float64] holding 2.5
	if err != nil {
		log.Fatal(err)
	}
	x, _ := v.Load()
	fmt.Println(x)
	// Output: 2.5
}

// Negative indexes count from the end, as in Python; outside the array
// is an error wrapping ErrRange.
func ExampleArray_Get() {
	r, err := shm.New(1 << 16)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	a, _ := shm.NewArrayOf(r, []int32{10, 20, 30})
	last, _ := a.Get(-1)
	_, err = a.Get(3)
	fmt.Println(last, err, errors.Is(err, shm.ErrRange))
	// Output: 30 get element: index 3 out of range for 3 elements: index out of range true
}

// Index turns Python's indexes into Go's.
func ExampleIndex() {
	for _, i := range []int{0, -1, -3, 3} {
		j, err := shm.Index(i, 3)
		fmt.Println(i, j, err)
	}
	// Output:
	// 0 0 <nil>
	// -1 2 <nil>
	// -3 0 <nil>
	// 3 0 index 3 out of range for 3 elements: index out of range
}

// NewArrayOf copies initial elements in, as Python's Array('q', [1, 2, 3]).
func ExampleNewArrayOf() {
	r, err := shm.New(1 << 16)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	a, _ := shm.NewArrayOf(r, []int64{1, 2, 3})
	fmt.Println(a.Slice(), a.Len())
	// Output: [1 2 3] 3
}
