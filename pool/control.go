package pool

import (
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

// KindControl is the shm kind of a pool worker's control block.
const KindControl shm.Kind = 0x0330

// ctlSlots is how many recently cancelled jobs a worker is told of.
const ctlSlots = 8

// control is a worker's control block: one per worker incarnation, in that
// worker's region. It is how the parent knows which item the worker runs,
// even after the worker died without a word.
//
// The seq store that makes seq odd publishes task, base and job (written
// before it) to the parent; after the worker's death the parent reads all
// four with nothing racing it, and checks what it read against its own
// in-flight FIFO (the task id must be in it, not necessarily at its head:
// results are published in batches; the item index must be below the
// task's count) before it believes it (deathScene.locate, exit.go). The cancelGen store publishes the
// cancel slots written before it. A stale read of the cancel slots only
// delays a skip (the item runs and its result is dropped).
type control struct {
	// seq: the worker adds 1 before an item (odd) and 1 after it returns
	// (even); a skipped item adds 2. The parent reads it: odd means an item
	// is running, and the watchdog times items by how long it stays odd.
	// seq, task, base and job have one writer, the worker, which stores
	// them with release order (mapped.StoreRelease, serve.go) rather than
	// a full barrier each: the parent's readers only need what was written
	// before a value to be visible with it. A value seen a little late
	// costs the watchdog nothing (it reads again), and a cancel stage no
	// more than a worker that read the cancel slots just before they were
	// written: that one item runs to its end and its result is dropped.
	seq atomic.Uint64
	// task: written by the worker before seq turns odd; read by the parent
	// after the worker died: the task that was running.
	task atomic.Uint64
	// base: seq when the task started, written by the worker before seq
	// turns odd; the parent computes the running item as (seq-1-base)/2.
	base atomic.Uint64
	// job: the running task's job, written by the worker before seq turns
	// odd; read by the parent's cancel stages (is the worker running an
	// item of a cancelled job?).
	job atomic.Uint64
	// ready: stored 1 by the worker, once, after its initializer succeeded;
	// read by the parent: a worker that dies before ready is a start or
	// initializer failure, not a task's.
	ready atomic.Uint32
	_     [4]byte
	// cancelGen: added to by the parent after it wrote a cancel slot; read
	// by the worker before each item: when it changed, the worker re-reads
	// the slots.
	cancelGen atomic.Uint64
	_         [16]byte
	// cancel: ids of recently cancelled jobs, written by the parent round
	// robin; the worker skips the items of these jobs.
	cancel [ctlSlots]atomic.Uint64
}

// ctlSize is the control block's size in the region.
const ctlSize = int64(unsafe.Sizeof(control{}))

// The layout is shared by two processes of one binary; pin it anyway, so
// that a change to it is a decision and not an accident.
var (
	_ [unsafe.Offsetof(control{}.ready) - 32]struct{}
	_ [32 - unsafe.Offsetof(control{}.ready)]struct{}
	_ [unsafe.Offsetof(control{}.cancelGen) - 40]struct{}
	_ [40 - unsafe.Offsetof(control{}.cancelGen)]struct{}
	_ [unsafe.Offsetof(control{}.cancel) - 64]struct{}
	_ [64 - unsafe.Offsetof(control{}.cancel)]struct{}
	_ [unsafe.Sizeof(control{}) - 128]struct{}
	_ [128 - unsafe.Sizeof(control{})]struct{}
)
