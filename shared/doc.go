// Package shared puts dicts and lists in shared memory, for several
// processes to read and change at once: what Python programs get from
// multiprocessing.Manager().dict() and .list(), ShareableList,
// SharedMemoryManager and Namespace, without a server process, at
// hundreds of nanoseconds an operation instead of tens of microseconds, and
// without breaking when a process dies.
//
//	m, _ := shared.NewManager(64 << 20)            // a region and a heap
//	defer m.Close()                                // frees all it made
//	d, _ := shared.NewDict[string, int64](m.Heap())
//	d.Set("jobs", 10)
//	d.Update("jobs", func(v int64, ok bool) (int64, bool) { return v - 1, true })
//	// pass d.Handle() to a child started with spawn.Share(m.Region());
//	// the child calls shared.OpenDict[string, int64](h) and uses the same dict.
//
// # Design
//
// Containers live in a shm.Heap, the general allocator with free of
// package shm: every entry, item, table and header is a heap block, named by
// its offset from the heap's start (the same number in every process). A
// Handle (heap handle, offset, kind, type fingerprints) is fixed-size and
// pointer-free, so it travels to a child as (part of) a spawn argument.
//
// Dict is an open-addressing hash table (linear probing, tombstones, a
// power-of-two slot array) of offsets of immutable entries; List is a slot
// array of offsets of immutable items plus a length. Values are bytes:
// fixed-size, pointer-free types as their own bytes (no encoding), []byte
// and string as they are, anything else through a Codec (Gob by default;
// spawn.Gob and spawn.JSON fit too).
//
// Every operation holds the container's lock, a robust sync.Mutex placed in
// the container's header (sync.MutexAt), except Dict.Get and Len, which read
// without it: Get is a seqlock reader (writers make a change sequence odd
// while they change the dict; a read that saw it even and unchanged is
// valid, any other is retried, then done under the lock).
//
// Crash safety comes from one rule: a change is written out of place and
// published by one atomic 8-byte store. Set writes a new entry in a fresh
// block, stores its offset into the slot, then frees the old entry; a table
// that must grow is built whole, published by one store of the root offset,
// then the old one is freed; List.Append stores the new items' offsets past
// the end, then the new length. A process SIGKILLed at any instruction
// leaves either the old state or the new one, never a mix; what it may leave
// behind is a leaked block (allocated but not yet published, or unpublished
// but not yet freed) and, for a dict, counts off by one. The next process to
// take the lock gets sync.ErrOwnerDead, and the dict recounts its entries
// and tombstones and evens its change sequence before going on. The dead
// process's lock is taken over within about 70 ms; nobody deadlocks.
//
// Range takes a snapshot under the lock (a copy of every key and value, so
// it sees the container at one moment) and calls the function after
// releasing it, so the function may use the container.
//
// # Memory layout
//
// Every container starts with a 128-byte header in a heap block (kinds
// 0x0400 dict, 0x0401 list, 0x0402 shareable list, 0x0403 record):
//
//	offset size field   written by                     read by
//	     0    8 lock    sync.Mutex owner word          every locked operation
//	    64    4 magic   constructor, last ("SHCT")     Open*
//	    68    2 kind    constructor                    Open*
//	    70    2 version constructor (1)                Open*
//	    72    8 keyFP   constructor                    Open*: key type fingerprint
//	    80    8 valFP   constructor                    Open*: value type fingerprint
//	    88    8 root    writers, under the lock        all: offset of the slot array
//	    96    8 count   writers, under the lock        Len (any time), writers
//	   104    8 aux     dict: tombstones, under lock   dict writers (load factor)
//	   112    8 seed    constructor                    dict: hash seed
//	   120    8 seq     dict writers (odd = changing)  Dict.Get (optimistic reads)
//
// A slot array is a heap block: word 0 its capacity n, words 1..n the
// slots. A dict slot is 0 (empty), 1 (tombstone) or tag<<48|offset, tag
// being the top 16 bits of the key's hash; a list slot is an item's offset.
// A dict entry is hash (8), key length (4), value length (4), key, value; a
// list item is its length (8), then its bytes. Entries and items never
// change once published. The heap's own layout is described in package shm
// (Heap).
//
// # Caveats
//
//   - Capacity: a heap never grows (regions do not grow). Size the manager
//     for the data; a full heap makes Set, Append and the rest fail with an
//     error wrapping shm.ErrNoSpace, and leaves the container unchanged and
//     usable (delete something and try again). Freed blocks are reused by
//     requests of their size class (classes are about 25% apart) or, once
//     the arena is all carved, of a class up to 4 times smaller; blocks are
//     never split or merged, so a workload whose value sizes grow can run
//     out with bytes free in smaller classes. Manager.Stats shows how much
//     is carved, in use and left.
//   - A process killed mid-change can leak the block it was writing or
//     freeing (bounded by one change per death: a few entries, or one table
//     or slot array when it dies during a rebuild).
//   - Update's function runs under the lock: keep it short, and do not use
//     the container from inside it (that deadlocks, as with sync.Mutex).
//     SetTimeout bounds this process's waits for the lock.
//   - CompareAndSwap compares encoded bytes: for values through a Codec,
//     only codecs that encode equal values to equal bytes make it
//     meaningful (Gob does not for maps).
//   - Values are copied in and out: Get returns a copy, and changing it
//     changes nothing shared (Python's "nested changes silently lost" is
//     here "nested changes need a Set", by design).
//   - Every process must use the same key and value types (checked, by a
//     fingerprint of the type) and the same codec (not checked).
//   - Operations after the region was closed in this process fail with
//     shm.ErrClosed; Close must not race with operations in flight.
//   - Corrupted shared memory (a stray write into the heap) is detected
//     where it is read (ErrCorrupt) and never causes a fault, hang or
//     unbounded allocation, but is not repaired.
package shared
