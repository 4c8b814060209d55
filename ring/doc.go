// Package ring moves data between processes through shared memory: lock-free
// rings of fixed-size slots (SPSC[T] and MPMC[T]), rings of variable-length
// records, and the blocking Queue, QueueOf[T], JoinableQueue and Pipe built
// on the latter. Everything lives in a shm.Region; what crosses a process
// boundary is a handle (shm.Handle, or PipeHandle for a pipe end), which the
// other process binds again with OpenQueue, OpenQueueOf, OpenJoinableQueue,
// OpenPipe, OpenSPSC or OpenMPMC. Every open checks the object header and
// the ring's own header and cursors, so a stale, mistyped or corrupt ring is
// a clear error (shm.ErrKind, shm.ErrType, ErrCapacity, ErrCorrupt), never a
// read outside the ring.
//
// # Blocking
//
// Blocking uses EventCount (waiter.go): two 4-byte words anywhere in a block.
// A waiter spins re-checking its condition, then announces itself in the
// futex word, re-checks, and sleeps on the futex. How long it spins adapts
// per EventCount and process, as package sync's locks do: a spin that
// catches the condition doubles the budget (up to 20 µs; 64 µs for the
// receiving side of a Pipe, a conversation), one that ends in a sleep
// halves it (down to two rounds of 64 re-checks), so a busy
// conversation on a quiet machine stays in the fast mode and a loaded or
// single-core machine does not burn the peer's time slice. A notifier
// makes its condition true with an atomic store, then looks at the
// announcement: none means nobody sleeps, so no system call; otherwise it
// bumps the word and wakes every sleeper. The lost-wake-up argument is
// written out in steps on the EventCount type. Context cancellation bumps
// the word and wakes it, so a cancelled waiter returns promptly. A put or a
// get makes no system call when nobody sleeps on the other side (tests
// count futex.Syscalls). A Pipe's Recv and Send use the same adaptive spin
// before they set up their peer-death checks (measured: a 64-byte round
// trip of 0.59 µs on two cores, 0.57 µs with the fixed 50 µs Pipe spin it
// replaces, and 9.5 µs instead of 154 µs with both processes on one core).
//
// # Queues and pipes: records
//
// A Queue is a ring of variable-length records in one block (KindQueue):
// each message is a 16-byte header and its payload, padded to 16 bytes; a
// record that would not fit before the end of the data area is preceded by
// a padding record, so every record is contiguous and can be written and
// read in place. Messages of 0 bytes and up travel. A message larger than
// half the ring (less a header; Queue.MaxInline) travels in a spill region:
// a named region of its own under /dev/shm whose name goes through the ring
// in a small record (large.go); the consumer maps it, unlinks the name at
// once and reads the bytes in place. Config.MaxMessage (1 GiB by default)
// bounds messages; a larger one, or one the machine cannot hold, fails with
// ErrTooLarge before anything is delivered.
//
// Producers. A producer takes the claim lock (a word on the producers'
// cache line), reads tail, writes the record header (state "claimed", its
// owner, span and length), advances tail with one store, and drops the lock:
// a few dozen instructions, no system call, no allocation. It then copies
// the payload outside the lock, so producers copy in parallel, and publishes
// the record with one atomic store (CAS) of its state word to "committed".
// Why a lock and not a CAS on tail: the header must name the claimer before
// any consumer can see the claimed space, or a producer killed between its
// CAS and its header write would leave bytes nobody can skip (their length
// and owner unknown). Under the lock the header is written first and tail
// stored last. The lock is robust: it holds the owner's pid and start time,
// and a producer that has waited 20 ms for the same holder checks that it
// still lives (internal/proc) and takes the lock from a dead one.
//
// Consumers. A consumer reads head, makes sure it is below tail (a
// process-local copy of tail saves the load while records are known to be
// there), and takes the record at head with a CAS of its state word from
// "committed" to "reading" with its own owner; every consumer that finds the
// head record already taken, freed or padding helps move head past it with a
// CAS from exactly that head. It copies the payload (Get) or hands it out in
// place (Take), then stores "free". The freed cursor, which tells producers
// which bytes may be reused, advances over free records and padding; the
// consumer that frees a record advances it, and a Dekker-style argument on
// sequentially consistent atomics (written out at advanceFreed) shows it
// never stops in front of a free record.
//
// Len is exact: puts (records claimed, under the lock) minus gets (records
// taken or skipped); it counts a message being written. Config.Items bounds
// it (Python's maxsize). Close, taken under the claim lock, marks the ring
// closed for every process: puts fail with ErrClosed from then on, every put
// that claimed before is delivered, and gets drain what is left, then fail
// with ErrClosed.
//
// QueueOf[T] encodes values with a Codec: RawCodec (the default for
// fixed-size, pointer-free T) copies T's bytes straight into the record and
// out again, with no allocation; GobCodec (the default for other types) or
// any Codec you plug in encodes in Put, so an encoding error is Put's error.
// The ring records T's fingerprint and size, so opening it as another type
// fails with shm.ErrType. JoinableQueue adds Python's task count (TaskDone,
// Join) in the same block. A Pipe is one record ring per direction (two for
// duplex); it is also an io.ReadWriteCloser, and each end records its
// process so that the other end's Recv or Send notices its death
// (ErrPeerDied, io.EOF for Read). Wait (select.go) waits on several queues
// and pipes at once, like multiprocessing.connection.wait.
//
// # Delivery guarantee and crashes
//
// A message is delivered at most once, and whole: a consumer can only take
// a committed record, and a record is committed by one atomic store after
// its payload was written. Precisely:
//
//   - A Put that returned nil is in shared memory: it is delivered to exactly
//     one consumer unless that consumer dies while holding it, or nobody
//     reads the queue again.
//   - A producer killed before its final store (anywhere inside Put, or
//     between Reserve and Commit) delivers nothing: its record stays
//     "claimed" by a dead process, and a consumer that has seen it at the
//     head for 20 ms (then every 10 ms) checks the owner's liveness, marks
//     it free and moves on. Other producers are not blocked at all (the
//     claim lock is held only while claiming, and a dead holder is replaced
//     after 20 ms). A torn record is never delivered.
//   - A consumer killed while it holds a message (inside Get, or between
//     Take and Release) loses that message and no other: the record stays
//     "reading" by a dead process, and a producer that waits for room
//     frees it after the same delay. Messages it had not taken stay for the
//     other consumers.
//   - Spill regions are unlinked by the consumer as soon as it maps them,
//     or by whoever frees a dead owner's record, so a crash leaks no
//     /dev/shm file (except when the ring itself is abandoned with a dead
//     producer's record still in it).
//   - Order: one producer's messages are claimed in the order it put them,
//     and a single consumer receives them in that order. With several
//     consumers, two messages may be handed to different consumers in
//     either order, and in one rare schedule (a consumer descheduled
//     between reading the head and its CAS while the ring laps) used to
//     let a consumer take a later message before an earlier one; since
//     layout version 2 the committed state word carries the record's
//     position (a tag), so that CAS fails and the consumer starts over.
//
// Recovery is bounded: about 20-30 ms after the death (recoverAfter plus
// recoverEvery), plus the time to read /proc/PID/stat, measured at well
// under 100 ms by the crash tests. A live process is never robbed, however
// slow: liveness is pid plus start time, so a reused pid does not count.
//
// # Fixed-slot rings
//
// Fixed-slot rings: SPSC[T] and MPMC[T].
//
// A fixed-slot ring carries values of one fixed-size, pointer-free type T
// (checked by layout.Of, as shm.Value and shm.Array do) between processes,
// through an array of slots in a shared-memory block. NewSPSC/NewMPMC
// allocate the ring in a region; the Handle of the ring crosses the process
// boundary (as a field of a spawn argument, say), and OpenSPSC/OpenMPMC bind
// it again in the other process, checking the handle and the ring header
// against T: a wrong slot type or size, a zero, negative or absurd capacity,
// a corrupt header all give clear errors (ErrCapacity, shm.ErrType,
// ErrCorrupt), never a read outside the ring.
//
// SPSC is the fastest: one producer and one consumer, across all processes.
// The producer owns the tail index, the consumer the head; each sits on its
// own cache line and each side keeps a process-local copy of the other's
// index, reloading it only when the copy says the ring is full (producer)
// or empty (consumer), so in steady state a push touches only the slot and
// its own index. PushBatch/PopBatch (and the zero-copy Reserve/Commit,
// Peek/Release) publish a whole batch with one atomic store: a Go atomic
// store is a full barrier on amd64 (XCHG), the single largest per-item cost,
// so batching is what reaches 100M+ items/s.
//
// MPMC is Dmitry Vyukov's bounded queue: every slot carries a sequence word
// that says whose turn it is; producers claim positions with a CAS on the
// enqueue index, consumers on the dequeue index; a claim of n slots at once
// is one CAS. Each slot's sequence store publishes that slot.
//
// Blocking (Push/Pop and friends, with a context) spins, then sleeps on an
// EventCount: one for "not empty" (consumers sleep), one for "not full"
// (producers sleep). A put or get makes no system call when nobody sleeps on
// the other side (checked by tests with futex.Syscalls).
//
// Close marks the ring closed for every process: puts fail with ErrClosed
// at once; gets drain what is left, then fail with ErrClosed. Every put
// that returned before Close was called is delivered; a put racing with a
// Close made elsewhere may succeed and leave its item behind after the
// consumers saw "closed and empty" (the producer side should close).
//
// # Memory layout
//
// Record rings (KindQueue, 0x0210), one block; words of one writer on one
// cache line (records.go has the same table, with the record states):
//
//	offset size field        written by                       read by
//	     0    4 magic        creator, last (atomic)           openers
//	     4    4 version      creator                          openers
//	     8    8 capacity     creator                          everyone: data bytes, a power of two
//	    16    8 maxItems     creator                          producers (0: no limit)
//	    24    4 flags        creator                          OpenJoinableQueue
//	    28    4 elem         creator                          OpenQueueOf: size of T (raw codec)
//	    32    8 type         creator                          OpenQueueOf: fingerprint of T and codec
//	    40    8 maxMessage   creator                          producers
//	    48    8 salt         creator (random 56 bits)         everyone: mixed into position tags
//	    64    8 lock         producers (CAS 0->owner, 0)      producers: the robust claim lock
//	    72    8 tail         lock holder                      consumers
//	    80    8 puts         lock holder                      Len
//	   128    8 head         consumers (CAS)                  consumers
//	   136    8 gets         consumers (add)                  Len, producers (maxItems)
//	   192    8 freed        consumers, recoverers (CAS)      producers
//	   256    4 closed       Close (under the lock)           everyone
//	   320    8 notEmpty     EventCount                       consumers sleep on it
//	   384    8 notFull      EventCount                       producers sleep on it
//	   448    8 unfinished   JoinableQueue                    Join
//	   456    8 joined       EventCount                       Join sleeps on it
//	   464    8 writer       pipe end that sends (owner)      the peer's Recv
//	   472    8 reader       pipe end that receives (owner)   the peer's Send
//	   512      data area, capacity bytes
//
// Positions (head, tail, freed) count bytes since the ring was made and
// never wrap (2^64); position p is at data[p mod capacity]. Always
// freed <= head <= tail <= freed+capacity. Each record:
//
//	offset size field   written by                 read by
//	     0    8 state   owner word (below), atomic everyone
//	     8    4 span    producer, before tail      consumers: bytes to the next record
//	    12    4 length  producer, before commit    the consumer (checked <= span-16)
//	    16      payload
//
// An owner word (record state, claim lock, pipe writer/reader) is: bits 0-3
// state (claimed 1, committed 2, reading 3, free 4, padding 5; 15 for a held
// lock), bits 4-7 flags (0x10: spill record), bits 8-31 the owner's pid,
// bits 32-63 the low 32 bits of its start time. One atomic load says what a
// record is and who to blame if it stays that way. A committed record's
// state word is the exception: nobody owns it, and bits 8-63 hold its
// position tag, (position/16 XOR salt) mod 2^56, so that a consumer's take
// CAS prepared for position p can only succeed on the record at p (no
// record of another lap, under 2^60 bytes away, has the same word).
//
// A spill record's 80-byte payload holds the spill object's size, the
// message length and the region name ("forkless-spill-" and 32 hex
// digits); the spill region holds one object of KindSpill (0x0211).
//
// Fixed-slot rings:
//
// Both rings start with the same 64-byte header (see slots.go: magic,
// version, capacity, slot count (a power of two >= capacity, so an index
// maps to a slot with a mask while the capacity stays exactly what was
// asked), element size, stride, type fingerprint, closed word). Indices are
// 64-bit and never wrap in practice (2^64 items).
//
// SPSC (kind 0x0200), every line 64 bytes:
//
//	offset   field                  written by        read by
//	     0   header                 creator; Close    everyone
//	    64   head  uint64           consumer (store   producer (when its cached copy
//	                                after reading)    says full), Len
//	   128   tail  uint64           producer (store   consumer (when its cached copy
//	                                after writing)    says empty), Len
//	   192   notEmpty seq, waiters  EventCount        (consumers sleep on it)
//	   256   notFull  seq, waiters  EventCount        (producers sleep on it)
//	   320   slots [slots]T         producer writes   consumer reads slot i while
//	                                slot i while      head <= i < tail
//	                                tail <= i < head+capacity
//
// The tail store hands the written slots to the consumer; the head store
// hands the read slots back to the producer.
//
// MPMC (kind 0x0201):
//
//	offset   field                  written by              read by
//	     0   header                 creator; Close          everyone
//	    64   enq uint64             producers (CAS: claim)  producers, Len
//	   128   deq uint64             consumers (CAS: claim)  consumers, Len, recovery
//	   192   notEmpty seq, waiters  EventCount
//	   256   notFull  seq, waiters  EventCount
//	   320   participants [64]      one line each, below
//	  4416   slots, stride bytes each: seq uint64, then T (8-aligned)
//
// A participant line records one attached ring value (one OpenMPMC or
// NewMPMC), so that a claim left behind by a dead process can be told from
// a slow one:
//
//	+0  pid uint32          the attaching value (CAS 0 -> pid; reset by Detach or by
//	+8  start uint64        an attacher that finds the process dead)
//	+16 pushN uint64        the claim this participant is about to make or holds:
//	+24 pushPos uint64      positions [pushPos, pushPos+pushN), written before the CAS
//	+32 popN uint64         likewise for the consumer side
//	+40 popPos uint64
//
// Slot sequence words (Vyukov), for the slot of position p (p & (slots-1)):
//
//	seq == p               free for the producer of position p
//	seq == p+1             holds the item of position p, for its consumer
//	seq == p+1 | 1<<63     position p was revoked (its producer died): consumers skip it
//	seq == p+slots         read; free for the producer of position p+slots
//
// # Caveats
//
// Queues and pipes: the claim lock serializes producers for the few
// instructions of a claim (not the copy), so many producers of tiny
// messages contend on one cache line; the fixed-slot MPMC scales better for
// fixed-size items. Commit a Reservation promptly and Release a Message
// promptly: consumers wait behind an uncommitted record at the head, and
// producers behind an unreleased one at freed (a live owner is never
// robbed). A spilled message costs a region creation (tens of µs plus page
// faults), so size the ring (Config.Bytes) above twice the usual message.
// A Queue that TryPut or TryGet finds held by a dead owner recovers like
// the blocking forms, after the same delay. JoinableQueue: a consumer that
// dies between Get and TaskDone leaves a task unfinished, and Join waits
// until its context ends. Pipe peer-death detection records the last
// process that opened each end. Bytes of a corrupt ring are reported
// (ErrCorrupt) but not repaired. A consumer descheduled between its head
// re-check and its take CAS can no longer take a record of a later lap
// (the CAS expects the position-tagged committed word of its position), and
// a payload of a later lap can only match if it holds that exact tagged
// word (state, flags, the 56-bit tag of an earlier position mixed with the
// ring's random salt) at that exact offset; even then the consumer sees
// freed past its position right after the CAS, puts the bytes back and
// reads nothing (records.go, tryTake: the argument in steps). What remains
// is that, for the instructions between that CAS and its undo, those 8
// payload bytes read "reading": only a payload forging the tagged word,
// read by its own consumer while the stale one is descheduled exactly
// there, could see it. Recoverers (freeing a dead owner's record) work
// under the claim lock and re-check their cursor, so their CAS never lands
// on reused bytes. Rings of layout version 1 are refused (ErrCorrupt).
//
// Fixed-slot rings:
//
// SPSC: one producer and one consumer at a time, over all processes and
// goroutines (a second concurrent producer corrupts the ring; it is not
// detected). If the producer dies, the consumer drains what was published
// and then waits (until its context ends, or until someone calls Close,
// which any process may do: the parent that reaps a dead child should). A
// producer killed in the middle of PushBatch has published either none or
// all of the batch (one index store). If the consumer dies, the producer
// fills the ring and then waits likewise; items the dead consumer had
// popped are gone, items it had not popped stay in the ring for a new
// consumer.
//
// MPMC: a producer that dies between claiming positions and publishing them
// leaves a hole that would stall every consumer. A consumer that finds the
// oldest position claimed but unpublished for longer than the stall timeout
// (DefaultStallTimeout, 100 ms; SetStallTimeout changes it per value) reads
// the participant table: if no LIVE participant's recorded claim covers the
// position (liveness by pid and start time, see internal/proc), its claimer
// is dead, and the consumer revokes the position (and the rest of the dead
// claim) so every consumer skips it. The bound: a dead producer holds the
// consumers up for the stall timeout plus at most a quarter of it (the
// re-check period of a sleeping consumer) plus one scan of the table (up to
// 64 /proc reads), about 125 ms by default; it loses only the items it had
// not published. A live producer is never revoked, however slow: its
// record covers its claim from before the claim until after publication.
// Symmetrically, a consumer that dies between claiming and releasing slots
// loses those items (at most its batch), and producers recycle the slots
// after the stall timeout. Recovery needs a participant table entry per
// attached value: at most 64 live attachments per ring (ErrCapacity
// beyond); entries of dead processes are reused, and Detach frees one. One
// MPMC value serializes its own puts (and its own gets) with a
// process-local mutex, because its claim record is one line; open the ring
// once per goroutine for parallel puts inside one process.
//
// Both: the race detector does not see mapped memory; correctness is shown
// by cross-process stress tests that count every item exactly once. A ring
// value points into its region's mapping: closing the region (shm.Region.Close)
// while a goroutine of the same process is still inside a ring operation is
// a use after unmap and faults. Close (or stop using) the rings first, the
// region last.
package ring
