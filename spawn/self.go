package spawn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/forkless-go/forkless/internal/cpu"
	"github.com/forkless-go/forkless/internal/proc"
	"github.com/forkless-go/forkless/internal/shutdown"
)

// ProcInfo describes a process of the program: this one (CurrentProcess)
// or its parent (ParentProcess).
type ProcInfo struct {
	Name   string // "MainProcess" for the process that was not spawned
	Pid    int
	Func   string // the function a spawned process runs; "" in the main process
	Daemon bool

	id proc.ID
}

// Alive reports whether the process still runs. A pid reused by another
// process does not count.
func (i ProcInfo) Alive() bool { return proc.Alive(i.id) }

// self is this process as its parent started it. It is written once, by
// Main in a child, before any function runs.
var self = struct {
	name, identity, fn string
	daemon             bool
	spawned            bool
	parent             ProcInfo
}{name: "MainProcess"}

func setSelf(q request) {
	self.name, self.identity, self.fn = q.name, q.identity, q.fn
	self.daemon = q.flags&flagDaemon != 0
	self.spawned = true
	self.parent = ProcInfo{Name: q.parentName, Pid: q.parentPid,
		id: proc.ID{Pid: int32(q.parentPid), Start: q.parentStart}}
}

// CurrentProcess describes this process, like Python's current_process().
func CurrentProcess() ProcInfo {
	return ProcInfo{Name: self.name, Pid: os.Getpid(), Func: self.fn, Daemon: self.daemon, id: proc.Self()}
}

// ParentProcess describes the process that spawned this one, like Python's
// parent_process(); false in a process that was not spawned.
func ParentProcess() (ProcInfo, bool) { return self.parent, self.spawned }

// CPUCount returns the number of CPUs this process may use: the CPUs of its
// affinity mask, limited by a cgroup CPU quota rounded up (a container
// allowed 1.5 CPUs counts 2). It is Python's os.process_cpu_count, plus the
// quota that Python ignores; a pool sizes itself with it.
func CPUCount() int { return cpu.Count() }

// Child is a started process of any result type: what ActiveChildren lists.
// *Process[R] implements it.
type Child interface {
	Name() string
	Pid() int
	Func() string
	Daemon() bool
	Alive() bool
	ExitCode() (code int, exited bool)
	Done() <-chan struct{}
	Terminate() error
	Kill() error
	Stop(grace time.Duration) error
}

var active struct {
	sync.Mutex
	seq  uint64
	byID map[Child]uint64
}

func addActive(c Child) {
	active.Lock()
	defer active.Unlock()
	if active.byID == nil {
		active.byID = make(map[Child]uint64)
	}
	active.seq++
	active.byID[c] = active.seq
}

func removeActive(c Child) {
	active.Lock()
	defer active.Unlock()
	delete(active.byID, c)
}

// ActiveChildren lists this process's children that have started and not
// yet exited, oldest first, like Python's active_children() (which also
// reaps: here every child is reaped as it exits, always).
func ActiveChildren() []Child {
	active.Lock()
	defer active.Unlock()
	type item struct {
		c   Child
		seq uint64
	}
	items := make([]item, 0, len(active.byID))
	for c, s := range active.byID {
		items = append(items, item{c, s})
	}
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Child, len(items))
	for i, it := range items {
		out[i] = it.c
	}
	return out
}

// daemonGrace is how long Shutdown gives a terminated daemon before SIGKILL.
const daemonGrace = 2 * time.Second

// Shutdown is what Python does when a program's main module returns:
// pools still open are terminated (their workers are daemons, and are not
// replaced), daemon children are terminated (SIGTERM, then SIGKILL after a
// grace of 2 s), and ordinary children are waited for. If ctx ends before they
// exit, they are killed too and Shutdown returns ctx's error. A spawned
// child runs Shutdown itself when its function returns.
//
// Go runs nothing after main returns, so a program that wants Python's
// behaviour calls it as main ends:
//
//	func main() {
//		spawn.Main()
//		defer spawn.Shutdown(context.Background())
//		...
//	}
//
// A program that does not call it loses all its children when it exits, daemon
// or not: children die with their parent.
func Shutdown(ctx context.Context) error {
	// First what would otherwise restart the children stopped below, or
	// keep them alive: package pool registers each open pool here.
	shutdown.Run(ctx)
	children := ActiveChildren()
	var daemons, ordinary []Child
	for _, c := range children {
		if c.Daemon() {
			daemons = append(daemons, c)
		} else {
			ordinary = append(ordinary, c)
		}
	}
	var wg sync.WaitGroup
	for _, c := range daemons {
		wg.Go(func() { c.Stop(daemonGrace) })
	}
	var errs []error
	for _, c := range ordinary {
		select {
		case <-c.Done():
		case <-ctx.Done():
			c.Kill()
			<-c.Done()
			errs = append(errs, fmt.Errorf("shut down: killed %s (pid %d): %w", c.Name(), c.Pid(), ctx.Err()))
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
