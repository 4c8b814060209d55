package shm_test

import (
	"fmt"
	"log"

	"github.com/forkless-go/forkless/shm"
)

// An Array lives in a region; its Slice is the shared memory itself.
func ExampleNewArray() {
	r, err := shm.New(1 << 20) // an anonymous region: nothing to clean up
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	squares, err := shm.NewArray[int64](r, 5)
	if err != nil {
		log.Fatal(err)
	}
	for i := range squares.Slice() {
		squares.Slice()[i] = int64(i * i)
	}
	fmt.Println(squares.Slice())
	// Output: [0 1 4 9 16]
}

// A Handle is what crosses a process boundary; binding it checks the kind
// and element type.
func ExampleOpenArray() {
	r, err := shm.New(1 << 20)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	a, _ := shm.NewArray[float64](r, 3)
	h := a.Handle() // send this to another process

	same, err := shm.OpenArray[float64](h)
	fmt.Println(same.Len(), err)
	_, err = shm.OpenArray[int32](h)
	fmt.Println(err)
	// Output:
	// 3 <nil>
	// open array of int32: handle names another element type: wrong element type
}

// Types that hold pointers cannot be shared, and the error says which field.
func ExampleNewValue_refused() {
	r, err := shm.New(4096)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	type Point struct {
		X, Y  float64
		Label string
	}
	_, err = shm.NewValue[Point](r)
	fmt.Println(err)
	// Output: new value: shm_test.Point: field Label is a string: type is not fixed-size and pointer-free
}
