//go:build unix

package pool

import (
	"context"
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

// groupKill doubles x, and SIGKILLs its own worker for a negative x.
var groupKill = spawn.Register("pool.groupKill", func(ctx context.Context, x int) (int, error) {
	if x < 0 {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	return 2 * x, nil
})

// groupSleep sleeps x ms, or until its context ends, and returns x.
var groupSleep = spawn.Register("pool.groupSleep", func(ctx context.Context, x int) (int, error) {
	select {
	case <-time.After(time.Duration(x) * time.Millisecond):
		return x, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
})

// A cancelled Map whose one-item tasks share descriptors ends as any
// other: Map returns at once, the running item is stopped, its group's
// other members are skipped, and within a second nothing of it is queued
// or in flight.
func TestGroupCancelled(t *testing.T) {
	p, err := New(context.Background(), Workers(2), CancelGrace(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	// Both workers learn the function first: its name travels alone.
	if _, err := Map(context.Background(), p, groupSleep, make([]int, 100), Chunk(1)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.groups = 0
	p.mu.Unlock()
	in := make([]int, 40)
	for i := range in {
		in[i] = 10_000
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, err := Map(ctx, p, groupSleep, in, Chunk(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled map returned after %v", d)
	}
	deadline := time.Now().Add(time.Second)
	for s := p.Stats(); (s.InFlight != 0 || s.Queued != 0) && time.Now().Before(deadline); s = p.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	if s := p.Stats(); s.InFlight != 0 || s.Queued != 0 {
		t.Fatalf("a second after the cancel: %+v", s)
	}
	requireGroups(t, p)
	// The pool goes on.
	if out, err := Map(context.Background(), p, groupSleep, []int{1, 2, 3}, Chunk(1)); err != nil || len(out) != 3 || out[2] != 3 {
		t.Fatalf("map after the cancel: %v, %v", out, err)
	}
}

// One-item tasks of small arguments share descriptors (group.go), and each
// stays a task of its own: a worker killed while it runs any member of a
// group fails exactly that member's item; every other item of the group
// and of the map is delivered. Two neighbouring items are tried, so that
// at least one of them is not its group's first member (without the
// worker's per-member control stores, both fail).
func TestGroupMemberKilledFailsOneItem(t *testing.T) {
	for _, kill := range []int{1000, 1001} {
		t.Run("item="+strconv.Itoa(kill), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := New(ctx, Workers(2))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			in := make([]int, 3000)
			for i := range in {
				in[i] = i
			}
			in[kill] = -1
			out, err := Map(ctx, p, groupKill, in, Chunk(1))
			var me *MapError
			if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != kill {
				t.Fatalf("err = %v, want exactly item %d failed", err, kill)
			}
			var we *WorkerError
			if !errors.As(err, &we) || we.ExitCode != -9 {
				t.Fatalf("err = %v, want a *WorkerError with signal 9", err)
			}
			for i, v := range out {
				if i != kill && v != 2*i {
					t.Fatalf("out[%d] = %d, want %d", i, v, 2*i)
				}
			}
			if s := p.Stats(); s.Done != int64(len(in)-1) || s.Failed != 1 || s.Restarts != 1 {
				t.Errorf("stats %+v", s)
			}
			t.Logf("%d grouped descriptors for %d items", requireGroups(t, p), len(in))
		})
	}
}

// An item of a group that outruns TaskTimeout fails alone with
// ErrTimeout, as a lone one-item task's would: the watchdog times items,
// and the control block names the member that ran too long.
func TestGroupMemberTimesOut(t *testing.T) {
	p, err := New(context.Background(), Workers(1), TaskTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	// The worker learns the function first: its name travels alone.
	if _, err := Map(context.Background(), p, groupSleep, make([]int, 100), Chunk(1)); err != nil {
		t.Fatal(err)
	}
	in := make([]int, 40)
	const slow = 21
	in[slow] = 60_000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := Map(ctx, p, groupSleep, in, Chunk(1))
	var me *MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 || me.Failed[0].Index != slow || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want exactly item %d failed with ErrTimeout", err, slow)
	}
	for i, v := range out {
		if i != slow && v != 0 {
			t.Fatalf("out[%d] = %d, want 0", i, v)
		}
	}
	requireGroups(t, p)
}

// requireGroups fails t unless some task descriptor of p carried a group,
// and returns how many did.
func requireGroups(t *testing.T, p *Pool) int64 {
	t.Helper()
	p.mu.Lock()
	groups := p.groups
	p.mu.Unlock()
	if groups == 0 {
		t.Fatal("no task descriptor carried a group: the test did not test groups")
	}
	return groups
}

// inlinePrefix keeps whole items only, and none of 128 bytes or more.
func TestInlinePrefix(t *testing.T) {
	item := func(n int) []byte { return append([]byte{byte(n)}, make([]byte, n)...) }
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	cases := []struct {
		name     string
		buf      []byte
		k        int
		items, n int
	}{
		{"two ints fit", cat(item(8), item(8), item(8)), 3, 2, 18},
		{"four int32s fit", cat(item(4), item(4), item(4), item(4)), 4, 4, 20},
		{"k bounds it", cat(item(4), item(4), item(4)), 2, 2, 10},
		{"first too large", cat(item(20), item(1)), 2, 0, 0},
		{"exactly full", cat(item(9), item(9)), 2, 2, 20},
		{"widened length", cat([]byte{0x80, 0x01}, item(1)), 2, 0, 0},
		{"truncated item", []byte{5, 1, 2}, 1, 0, 0},
	}
	for _, c := range cases {
		if items, n := inlinePrefix(c.buf, c.k, 20); items != c.items || n != c.n {
			t.Errorf("%s: inlinePrefix = %d, %d, want %d, %d", c.name, items, n, c.items, c.n)
		}
	}
}
