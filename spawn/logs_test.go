//go:build linux

package spawn_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

var logSome = spawn.Register("spawn.logSome", func(ctx context.Context, n int) (struct{}, error) {
	for i := range n {
		slog.Info("record", "i", i, slog.Group("g", slog.String("s", "x"), slog.Duration("d", time.Second)))
		slog.Debug("dropped: the parent handles Info and up")
	}
	log.Printf("through the log package")
	return struct{}{}, nil
})

// collector is a slog handler that keeps what it is given.
type collector struct {
	mu    *sync.Mutex
	recs  *[]slog.Record
	attrs []slog.Attr
}

func newCollector() *collector { return &collector{mu: new(sync.Mutex), recs: new([]slog.Record)} }

func (c *collector) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (c *collector) WithGroup(string) slog.Handler                { return c }
func (c *collector) WithAttrs(as []slog.Attr) slog.Handler {
	d := *c
	d.attrs = append(append([]slog.Attr(nil), c.attrs...), as...)
	return &d
}
func (c *collector) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(c.attrs...)
	c.mu.Lock()
	defer c.mu.Unlock()
	*c.recs = append(*c.recs, r)
	return nil
}

func attrs(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
	return m
}

// TestForwardLogs: every record of two children reaches the parent's
// handler, in order per child, none lost at exit, with the process name
// and pid, typed attributes, and the log package's lines too.
func TestForwardLogs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newCollector()
	const n = 500
	var ps []*spawn.Process[struct{}]
	for i := range 2 {
		p, err := logSome.Start(ctx, n, spawn.ForwardLogs(h), spawn.Name(fmt.Sprint("logger-", i)))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	next := map[string]int64{}
	lines := 0
	for _, r := range *h.recs {
		a := attrs(r)
		name := a["process"].String()
		if !strings.HasPrefix(name, "logger-") || a["pid"].Int64() == 0 {
			t.Fatalf("record without process and pid: %v", r)
		}
		if r.Message == "through the log package" {
			lines++
			continue
		}
		if r.Level != slog.LevelInfo || r.Message != "record" {
			t.Fatalf("unexpected record %v", r)
		}
		if a["i"].Kind() != slog.KindInt64 || a["i"].Int64() != next[name] {
			t.Fatalf("%s: record %v, want i=%d", name, a["i"], next[name])
		}
		if a["g.s"].String() != "x" || a["g.d"].Duration() != time.Second {
			t.Fatalf("group attrs: %v", a)
		}
		next[name]++
	}
	if len(next) != 2 || next["logger-0"] != n || next["logger-1"] != n || lines != 2 {
		t.Fatalf("records per child %v, log lines %d; want %d each and 2", next, lines, n)
	}
}

var sleepLong = spawn.Register("spawn.sleepLong", func(ctx context.Context, _ struct{}) (struct{}, error) {
	<-ctx.Done()
	return struct{}{}, nil
})

// TestOwnEventsLevels: forkless's own events come at levels that fit: a
// child killed by SIGKILL is a warning, a normal exit debug.
func TestOwnEventsLevels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := newCollector()
	spawn.SetLogger(slog.New(h))
	defer spawn.SetLogger(nil)
	p, err := sleepLong.Start(ctx, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait(ctx)
	var exits []slog.Record
	h.mu.Lock()
	for _, r := range *h.recs {
		if r.Message == "forkless/spawn: exited" {
			exits = append(exits, r)
		}
	}
	h.mu.Unlock()
	if len(exits) != 1 || exits[0].Level != slog.LevelWarn || attrs(exits[0])["exitcode"].Int64() != -9 {
		t.Fatalf("exit records %v, want one warning with exitcode -9", exits)
	}
}
