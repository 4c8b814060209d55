// Package queue moves messages of any length between processes through
// shared memory: [Queue] is Python's multiprocessing.Queue, [Of] carries
// typed values, [Joinable] adds TaskDone and Join, [Pipe] is
// multiprocessing.Pipe (and an io.ReadWriteCloser), and [Wait] waits on
// several of them at once, like multiprocessing.connection.wait. Python's
// other pieces: [Queue.Shutdown], [JoinableOf], [PipeOf] and [WrapPipe]
// (typed ends), [Pipe.RecvBytesInto], and [Listen], [Dial] and [Conn]
// (multiprocessing.connection's Listener and Client). Fixed-size items go
// faster through package [github.com/forkless-go/forkless/ring]'s rings.
//
// Each is a ring of variable-length records in one block of a shm.Region
// ([KindRecords]). [New] (or [NewOf], [NewJoinable], [NewPipe]) allocates
// it (a nil region: one of its own, [Queue.Region]); its Handle (a [PipeHandle] for a pipe end) crosses the process
// boundary and [Open] ([OpenOf], [OpenJoinable], [OpenPipe]) binds it in the
// other process, checking the header and cursors: a mistyped or corrupt
// ring is an error (shm.ErrKind, shm.ErrType, [ErrCapacity], [ErrCorrupt]),
// never a read outside it. layout.go lays the ring out as Go structs, each
// field saying who writes and reads it, and argues the memory ordering
// (arm64 too) of a record's hand-off from producer to consumer.
//
// Messages of 0 bytes and up travel, each whole and at most once. One
// larger than [Queue.MaxInline] (half the ring, less a 16-byte header)
// travels in the queue's spill area, in its region (it dies with the ring;
// in an anonymous region nobody can truncate it): by default sized from the
// ring and the region's room ([Config].Spill; -1 for /dev/shm files
// instead, which an abandoned ring leaves behind). [Config].MaxMessage
// bounds messages ([Queue.MaxMessage]); a larger one fails with
// [ErrTooLarge] before anything is written. Put, Get and the zero-copy
// Reserve/Commit and Take/Release take a context; TryPut, TryGet,
// TryReserve and TryTake fail at once with [ErrFull] or [ErrEmpty].
// Nothing makes a system call while nobody sleeps on the other side.
//
// Len is exact whenever no put or get is in progress; [Config].Items bounds
// it (Python's maxsize). Close marks the queue closed for every process:
// puts fail with [ErrClosed] from then on, every put that claimed room
// before is delivered, and gets drain what is left, then fail with
// ErrClosed. [Of] encodes values in Put, in the caller's goroutine (an
// encoding error is Put's error): [RawCodec] copies a fixed-size,
// pointer-free T in place, [GobCodec] handles other types, or plug in a
// [Codec].
//
// # Delivery and crashes
//
//   - A Put that returned nil is in shared memory: it is delivered to exactly
//     one consumer unless that consumer dies while holding it, or nobody
//     reads the queue again. The producer may exit at once.
//   - A producer killed inside Put (or between Reserve and Commit) delivers
//     nothing; a consumer that has seen its record at the head for 20 ms
//     checks that the producer is dead and skips it. Other producers are not
//     held up for longer. A torn message is never delivered.
//   - A consumer killed while it holds a message (inside Get, or between
//     Take and Release) loses that message and no other; a producer waiting
//     for room frees its record after the same delay.
//   - With a spill area (the default) nothing outlives the ring. A spill
//     file (Spill -1) is unlinked by its consumer, or by whoever frees a
//     dead owner's record; unread ones stay in /dev/shm when the ring is
//     abandoned (docs/reliability.md).
//   - One producer's messages reach a single consumer in the order they
//     were put; with several consumers, two messages may be handed out in
//     either order.
//   - A live process is never robbed, however slow: liveness is pid plus
//     start time. Recovery takes 20-30 ms after a death; a Pipe notices its
//     peer's at once (a pidfd; within a second where there is none).
//
// # Caveats
//
// Producers claim room under a short lock (a message up to 512 bytes is
// copied under it), so many producers of tiny messages contend on one
// cache line; a Put waiting for room is woken per eighth of the ring freed
// (see [Queue.Put]). Commit a
// Reservation and Release a Message promptly: consumers wait behind an
// uncommitted record, producers behind an unreleased one. A spilled message
// costs a file (tens of µs plus page faults) or a block of MaxMessage in
// the area: size the ring above twice the usual message. A [Joinable]
// consumer that dies between Get and TaskDone leaves a task unfinished,
// and Join waits until its context ends. A [Pipe] end's peer-death detection watches the last
// process that opened that end. Corrupt bytes (anything another process
// wrote) are reported with ErrCorrupt, never a panic or a hang; not repaired.
// A queue points into its region's mapping: close the region last.
//
// Every error wraps one of this package's sentinels (registered: errors.Is
// holds across processes), a context error, or one of package shm's.
// ErrClosed, ErrFull, ErrEmpty, ErrTooLarge, ErrCorrupt and ErrCapacity
// are package ring's values. Figures: docs/bench/queue.md.
package queue
