//go:build unix

package pool_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

// TestPoolWorkerOutputShared: the workers of a pool share the writer
// WorkerOptions(spawn.Stdout(w)) gives them, a plain *bytes.Buffer here:
// every line of every task is in it, whole, once Close has returned.
func TestPoolWorkerOutputShared(t *testing.T) {
	var out bytes.Buffer
	p, err := pool.New(poolCtx(t, 30*time.Second), pool.Workers(2), pool.WorkerOptions(spawn.Stdout(&out)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := poolCtx(t, 30*time.Second)
	items := make([]int, 400)
	for i := range items {
		items[i] = i
	}
	if _, err := pool.Map(ctx, p, poolPrint, items, pool.Chunk(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var i int
		if n, _ := fmt.Sscanf(l, "item %d", &i); n != 1 || l != printLine(i) || seen[l] {
			t.Fatalf("line %.60q... is not one whole line of one task, or came twice", l)
		}
		seen[l] = true
	}
	if len(seen) != len(items) {
		t.Fatalf("%d lines, want %d", len(seen), len(items))
	}
}

func printLine(i int) string { return fmt.Sprintf("item %d %s", i, strings.Repeat("x", 200)) }

var poolPrint = spawn.Register("pool.poolPrint", func(ctx context.Context, i int) (int, error) {
	fmt.Println(printLine(i))
	return i, nil
})
