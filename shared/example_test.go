package shared_test

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/spawn"
)

// countWords runs in a child process: it opens the dict from its handle and
// adds its words to the shared counts.
var countWords = spawn.Register("shared.countWords", func(ctx context.Context, a struct {
	Dict  shared.Handle
	Words [3]string
}) (int, error) {
	d, err := shared.OpenDict[string, int64](a.Dict)
	if err != nil {
		return 0, err
	}
	for _, w := range a.Words {
		if _, _, err := d.Update(w, func(n int64, _ bool) (int64, bool) { return n + 1, true }); err != nil {
			return 0, err
		}
	}
	return len(a.Words), nil
})

// A dict shared with child processes: each child counts its words into it,
// and the parent reads the totals. No server process, and nothing is lost:
// Update is atomic across processes.
func ExampleOpenDict() {
	m, err := shared.NewManager(1 << 20)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	d, err := shared.NewDict[string, int64](m.Heap())
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	var ps []*spawn.Process[int]
	for _, words := range [][3]string{{"go", "fork", "go"}, {"fork", "go", "shm"}} {
		p, err := countWords.Start(ctx, struct {
			Dict  shared.Handle
			Words [3]string
		}{d.Handle(), words}, spawn.Share(m.Region()))
		if err != nil {
			panic(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			panic(err)
		}
	}
	for _, w := range []string{"go", "fork", "shm"} {
		n, _, _ := d.Get(w)
		fmt.Println(w, n)
	}
	fmt.Println(d.Len(), "words")
	// Output:
	// go 3
	// fork 2
	// shm 1
	// 3 words
}

func ExampleList() {
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	l, _ := shared.NewList[string](m.Heap())
	l.Append("a", "b", "c")
	last, _ := l.Pop()
	first, _ := l.Get(0)
	all, _ := l.Slice()
	fmt.Println(first, last, all, l.Len())
	// Output: a c [a b] 2
}

func ExampleRecord() {
	type progress struct {
		Done, Total int
		Stage       string
	}
	m, _ := shared.NewManager(1 << 20)
	defer m.Close()
	rec, _ := shared.NewRecord(m.Heap(), progress{Total: 3, Stage: "starting"})
	for range 3 {
		rec.Update(func(p progress) progress { p.Done++; p.Stage = "working"; return p })
	}
	p, _ := rec.Load()
	fmt.Printf("%+v\n", p)
	// Output: {Done:3 Total:3 Stage:working}
}

func ExampleDict_full() {
	m, _ := shared.NewManager(64 << 10)
	defer m.Close()
	d, _ := shared.NewDict[string, []byte](m.Heap())
	var err error
	n := 0
	for ; err == nil; n++ {
		err = d.Set(fmt.Sprint("key", n), make([]byte, 1000))
	}
	fmt.Println(err != nil, d.Len() == n-1)
	d.Delete("key0")
	fmt.Println(d.Set("another", make([]byte, 1000)))
	// Output:
	// true true
	// <nil>
}
