//go:build linux

package bench

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/pool"
)

// TestGuide runs the code of docs/python.md and checks what it says each
// step returns.
func TestGuide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if msg, err := guideProcess(ctx); err != nil || msg != "hello, bob" {
		t.Errorf("process: %q, %v", msg, err)
	}
	if n, data, err := guideValueArray(ctx); err != nil || n != 1 || !slices.Equal(data, []float64{2, 4, 6, 8}) {
		t.Errorf("value and array: %d, %v, %v", n, data, err)
	}
	if err := guideSync(ctx); err != nil {
		t.Errorf("barrier and event: %v", err)
	}
	if n, err := guideQueue(ctx); err != nil || n != 100 {
		t.Errorf("queue: worker got %d jobs, %v; want 100", n, err)
	}
	if msg, err := guidePipe(ctx); err != nil || msg != "ping" {
		t.Errorf("pipe: %q, %v", msg, err)
	}
	squares, v, err := guidePool(ctx)
	if err != nil || !slices.Equal(squares, []int{1, 4, 9, 16}) || v != 144 {
		t.Errorf("pool: %v, %d, %v", squares, v, err)
	}
	p, err := pool.New(ctx, pool.Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	if sum, err := guideImap(ctx, p); err != nil || sum <= 1000 {
		t.Errorf("imap: %d, %v", sum, err)
	}
	if nd, err := guideWait(ctx, p); err != nil || len(nd) != 0 {
		t.Errorf("wait: %d not done, %v", len(nd), err)
	}
	if v, err := guideDict(ctx); err != nil || v != 11 {
		t.Errorf("dict: %d, %v; want 11", v, err)
	}
}

// TestGuideMatchesDocs checks that every Go block of docs/python.md appears
// in guide_test.go, line for line (indentation aside), so that the guide
// shows code that compiles and runs. A block preceded by the line
// "<!-- not compiled -->" is exempt (a whole main package, say).
func TestGuideMatchesDocs(t *testing.T) {
	doc, err := os.Open("../docs/python.md")
	if err != nil {
		t.Skip("docs/python.md not found:", err)
	}
	defer doc.Close()
	src, err := os.ReadFile("guide_test.go")
	if err != nil {
		t.Fatal(err)
	}
	code := normalize(strings.Split(string(src), "\n"))
	var block []string
	in, exempt, prev, blocks := false, false, "", 0
	sc := bufio.NewScanner(doc)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```go":
			in, exempt, block = true, prev == "<!-- not compiled -->", nil
		case in && line == "```":
			in = false
			blocks++
			if exempt {
				continue
			}
			want := normalize(block)
			if !containsRun(code, want) {
				t.Errorf("this Go block of docs/python.md is not in bench/guide_test.go:\n%s", strings.Join(block, "\n"))
			}
		case in:
			block = append(block, line)
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	if blocks == 0 {
		t.Error("docs/python.md has no Go block")
	}
}

func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return out
}

func containsRun(hay, needle []string) bool {
	if len(needle) == 0 {
		return true
	}
	for i := 0; i+len(needle) <= len(hay); i++ {
		if slices.Equal(hay[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}
