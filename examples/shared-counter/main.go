// Command shared-counter has two child processes count into one shared
// dict entry with Update, which is atomic across processes.
package main

import (
	"context"
	"fmt"

	"github.com/forkless-go/forkless/shared"
	"github.com/forkless-go/forkless/spawn"
)

// count runs in a child: it opens the dict from its handle and counts into it.
var count = spawn.Register("main.count", func(ctx context.Context, h shared.Handle) (struct{}, error) {
	d, err := shared.OpenDict[string, int64](h)
	if err != nil {
		return struct{}{}, err
	}
	for range 1000 {
		d.Update("hits", func(n int64, _ bool) (int64, bool) { return n + 1, true })
	}
	return struct{}{}, nil
})

func main() {
	spawn.Main()
	m, err := shared.NewManager(16 << 20) // a region and a heap; Close frees everything
	if err != nil {
		panic(err)
	}
	defer m.Close()
	d, _ := shared.NewDict[string, int64](m.Heap())
	ctx := context.Background()
	p1, _ := count.Start(ctx, d.Handle(), spawn.Share(m.Region()))
	p2, _ := count.Start(ctx, d.Handle(), spawn.Share(m.Region()))
	p1.Wait(ctx)
	p2.Wait(ctx)
	hits, _, _ := d.Get("hits")
	fmt.Println(hits) // 2000: Update is atomic across processes
}
