//go:build linux

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/forkless-go/forkless/faults"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// Truncation: a named region's file under /dev/shm is truncated to zero by
// another process of the same user while a bystander reads a Value in it.
// A mapping beyond a file's end faults (SIGBUS) and Go cannot recover from
// that: the documented guarantee is that anonymous regions are sealed
// against it (and spilled messages live in them), not named ones. The row
// records what a bystander of a named region meets.

type truncArg struct {
	Name    string
	V       shm.Handle
	Seconds float64
}

var truncReader = spawn.Register("faults.truncreader", func(ctx context.Context, a truncArg) (int, error) {
	r, err := shm.Open(a.Name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	v, err := shm.OpenValue[item](a.V)
	if err != nil {
		return 0, err
	}
	end := time.Now().Add(time.Duration(a.Seconds * float64(time.Second)))
	n := 0
	for ; time.Now().Before(end); n++ {
		if _, err := v.Load(); err != nil && !errors.Is(err, shm.ErrCorrupt) {
			return n, err
		}
	}
	return n, nil
})

func TestTruncateNamed(t *testing.T) {
	snap := takeSnapshot()
	name := fmt.Sprintf("forkless-faults-%d", os.Getpid())
	r, err := shm.Create(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unlink()
	defer r.Close()
	v, err := shm.NewValue[item](r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget()+10*time.Second)
	defer cancel()
	p, err := truncReader.Start(ctx, truncArg{name, v.Handle(), budget().Seconds()}, spawn.Stderr(io.Discard)) // its fault report
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(budget() / 4) // let it read a while: nothing to wait on
	row := faults.Row{Scenario: "truncate/named-region", Kills: 1}
	if err := os.Truncate("/dev/shm/"+name, 0); err != nil {
		row.Note = "truncate refused: " + err.Error()
	}
	n, err := p.Wait(ctx)
	row.Items = int64(n)
	if err != nil {
		row.Crashes++
		row.Note = "bystander of a named region: " + err.Error()
	}
	r.Unlink()
	r.Close()
	snap.leaks(&row)
	recordExpected(t, row, "named regions are not sealed: see the note")
}
