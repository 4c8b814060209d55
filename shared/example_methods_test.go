package shared_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/forkless-go/forkless/shared"
)

// Python's list methods: insert, pop(i), remove, index, count, extend.
func ExampleList_Insert() {
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	l, _ := shared.NewList[string](m.Heap())
	l.Append("b", "d")
	l.Insert(0, "a")  // l.insert(0, "a")
	l.Insert(-1, "c") // l.insert(-1, "c"): before the last
	l.Extend(slices.Values([]string{"e", "c"}))
	i, _ := l.Index("c")    // l.index("c")
	n, _ := l.Count("c")    // l.count("c")
	second, _ := l.PopAt(1) // l.pop(1)
	l.Remove("c")           // l.remove("c"): the first one
	err := l.Remove("zzz")  // Python raises ValueError
	all, _ := l.Slice()
	fmt.Println(i, n, second, all, errors.Is(err, shared.ErrNotFound))
	// Output: 2 2 b [a d e c] true
}

// A Go loop over a list: All ranges over a snapshot with its indexes.
func ExampleList_All() {
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	l, _ := shared.NewList[float64](m.Heap())
	l.Append(0.5, 1.5, 2.5)
	items, err := l.All(context.Background()) // every error is here
	if err != nil {
		panic(err)
	}
	for i, v := range items {
		fmt.Println(i, v)
	}
	// Output:
	// 0 0.5
	// 1 1.5
	// 2 2.5
}

// Integer keys, d[65] = "A", with no strconv; SetAll is Python's
// d.update(mapping), and All, Keys and Values its items(), keys() and
// values().
func ExampleDict_All() {
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	d, _ := shared.NewDict[int, string](m.Heap())
	d.Set(65, "A")
	d.SetAll(maps.All(map[int]string{66: "B", 67: "C"})) // d.update({66: "B", 67: "C"})
	ctx := context.Background()
	items, err := d.All(ctx) // a snapshot; every error is here
	if err != nil {
		panic(err)
	}
	got := maps.Collect(items)
	keys, _ := d.Keys(ctx)
	fmt.Println(got[65], got[67], slices.Sorted(keys))
	k, v, _ := d.PopItem() // d.popitem(): some entry
	fmt.Println(d.Len(), got[k] == v)
	// Output:
	// A C [65 66 67]
	// 2 true
}

// Fixed-size keys of any shape: a struct of integers is a key too.
func ExampleDict_structKeys() {
	type cell struct{ Row, Col int32 }
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	grid, _ := shared.NewDict[cell, rune](m.Heap())
	grid.Set(cell{0, 0}, 'X')
	grid.Set(cell{1, 2}, 'O')
	v, ok, _ := grid.Get(cell{1, 2})
	_, missing, _ := grid.Get(cell{2, 1})
	fmt.Println(string(v), ok, missing)
	// Output: O true false
}
