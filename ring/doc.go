// Package ring moves fixed-size values between processes through lock-free
// rings of slots in shared memory: [SPSC] (one producer, one consumer) and
// [MPMC] (any number of each). Messages of any length, and the blocking
// Queue, Pipe and Wait of Python's multiprocessing, are package
// [github.com/forkless-go/forkless/queue]'s.
//
// A ring carries values of one fixed-size, pointer-free type T (checked as
// shm.Value checks it). [NewSPSC] and [NewMPMC] allocate a ring in a
// shm.Region; its [SPSC.Handle] crosses the process boundary (a field of a
// spawn argument, say) and [OpenSPSC] or [OpenMPMC] binds it again in the
// other process. Every open checks the handle and the ring's header against
// T: a wrong type (shm.ErrType), a bad capacity ([ErrCapacity]) or a
// corrupt header ([ErrCorrupt]) is an error, never a read outside the ring.
// The shared layout is a set of Go structs in layout.go (slotHeader,
// spscLayout, mpmcLayout), each field saying who writes and who reads it.
//
// Non-blocking calls (TryPush, TryPop, PushBatch, PopBatch) fail at once
// with [ErrFull] or [ErrEmpty]. Blocking calls (Push, Pop, PushAll,
// PopSome) take a context: they spin briefly, then sleep on a futex until
// the other side makes progress or the context ends. A put or a get makes
// no system call while nobody sleeps on the other side. Batches (PushAll,
// PopSome, SPSC's zero-copy Reserve/Commit and Peek/Release) publish many
// items with one atomic store: that is what reaches 100M+ items/s.
//
// Close marks a ring closed for every process: puts fail with [ErrClosed]
// at once, gets drain what is left, then fail with ErrClosed. Every put that
// returned before Close was called is delivered; a put racing with a Close
// made in another process may land after the consumers saw "closed and
// empty", so let the producer side close.
//
// # Crashes
//
// SPSC: one producer and one consumer at a time, over all processes and
// goroutines (a second concurrent producer corrupts the ring undetected). A
// producer killed inside PushBatch published all of the batch or none. If
// either side dies, the other drains or fills the ring and then waits until
// its context ends or someone (the parent that reaped the child) calls
// Close; items the dead consumer had popped are gone.
//
// MPMC: a producer that dies between claiming positions and publishing them
// holds the consumers up for the stall timeout ([DefaultStallTimeout],
// 100 ms; [MPMC.SetStallTimeout]) plus a quarter of it and one scan of the
// participant table, about 125 ms; it loses only the items it had not
// published. A consumer that dies between claiming and releasing slots
// loses those items (at most its batch). A live process is never robbed,
// however slow: liveness is pid plus start time. Recovery needs a table
// entry per attached value: at most [MaxParticipants] live attachments per
// ring (ErrCapacity beyond); a dead process's entry is reused and
// [MPMC.Detach] frees one. One MPMC value serializes its own puts (and its
// own gets); open the ring once per goroutine for parallel puts within one
// process.
//
// Bytes another process wrote are never trusted: a slot sequence or index
// that no schedule can produce is [ErrCorrupt], every loop is bounded, and
// every blocking call returns by its context (docs/reliability.md).
//
// Memory ordering, arm64 too: SPSC slots are written before the producer's
// tail store and read after the consumer's tail load; the consumer's head
// store hands them back. An MPMC slot is claimed by a CAS of enq (deq),
// published by its sequence store (pos+1) and handed back by the next
// (pos+slots); its bytes are read only after the load that saw that value.
//
// A ring value points into its region's mapping: closing the region while
// a goroutine of this process is inside a ring operation is a use after
// unmap. Close (or stop using) the rings first, the region last. The race
// detector does not see mapped memory; cross-process stress tests that
// count every item exactly once are the proof.
//
// Every error wraps one of this package's sentinels (registered, so that
// errors.Is holds across the process boundary), a context error, or one of
// package shm's. ErrClosed, ErrCorrupt and ErrTooLarge are also shm's
// shared meanings (shm.ErrClosed, ...). Figures and the history of the
// design are in docs/bench/ring.md.
package ring
