// Package shared puts dicts and lists in shared memory, for several
// processes to read and change at once: what Python programs get from
// multiprocessing.Manager().dict() and .list(), ShareableList,
// SharedMemoryManager and Namespace, without a server process, and without
// breaking when a process dies.
//
//	m, _ := shared.NewManager(64 << 20)            // a region and a heap
//	defer m.Close()                                // frees all it made
//	d, _ := shared.NewDict[string, int64](m.Heap())
//	d.Set("jobs", 10)
//	d.Update("jobs", func(v int64, ok bool) (int64, bool) { return v - 1, true })
//	// pass d.Handle() to a child started with spawn.Share(m.Region());
//	// the child calls shared.OpenDict[string, int64](h) and uses the same dict.
//
// The containers are [Dict], [List], [ShareableList] (fixed length) and
// [Record] (one value, a typed Namespace), made in the heap of a [Manager]
// or any shm.Heap. A [Handle] names one for another process: it is
// fixed-size and pointer-free, so it travels as (part of) a spawn argument,
// or as text ([Handle.String], [ParseHandle]) to a process that opened a
// named manager's region by name. Opening checks the handle's kind and the
// key and value types against the container.
//
// Python's methods are there: a List's Append, Extend, Insert, PopAt (pop(i)),
// Remove, Index and Count; a Dict's SetAll (update), PopItem, SetDefault.
// Dict keys are strings, byte slices, or fixed-size, pointer-free types
// (Dict[int, V] holds d[65]). Values are stored as bytes: fixed-size,
// pointer-free types as their own bytes, []byte and string as they are,
// anything else through a [Codec] ([Gob] unless [WithCodec] says
// otherwise); a part that cannot be stored fails with [ErrEncode], named
// ("value.Jobs (chan int)"). Values are copied in and out: changing a
// value Get returned changes nothing shared (Python's "nested changes
// silently lost" is here "nested changes need a Set"). [Dict.All], Keys,
// Values and [List.All] return Go iterators over a snapshot, with every
// error returned before the loop.
//
// Every operation is atomic with respect to the others, across processes:
// each takes the container's robust lock, except [Dict.Get] and Len, which
// read without it. A process killed at any instruction leaves each
// container in its old state or its new one, never a mix; the next process
// to take the lock repairs what the dead one left (it rolls a journaled
// Insert, PopAt or Remove forward), and nobody deadlocks. Range and the
// iterators run the loop on a snapshot, without the lock.
//
// Memory ordering, arm64 too: every change is written out of place and
// published, under the lock, by atomic stores (a slot, root or count word;
// a journal first for two) made after the bytes. [Dict.Get] reads without the
// lock: it copies the entry (header, key, value) with atomic loads and
// keeps the copy only if the change sequence (containerHeader.seq) was even
// and unchanged around them; the argument is at Dict.tryGet.
//
// Errors wrap this package's sentinels ([ErrNotFound], [ErrIndex], ...) or
// package shm's (shm.ErrNoSpace when the heap is full, shm.ErrClosed after
// the region was closed); [ErrCorrupt] is shm.ErrCorrupt and [ErrTooLarge]
// shm.ErrTooLarge too. Test with errors.Is.
//
// Caveats:
//
//   - A heap never grows. A full heap makes Set, Append and the rest fail
//     with shm.ErrNoSpace and leaves the container unchanged and usable.
//     Freed blocks serve requests of their size class (about 25% apart) or
//     of one up to 4 times smaller; blocks are never split or merged, so a
//     workload whose values grow can run out with bytes free in smaller
//     classes. [Manager.Stats] shows how much is carved, in use and left.
//   - A process killed mid-change can leak the block it was writing or
//     freeing: a few entries, or one table when it dies during a rebuild.
//   - Update's function runs under the lock: keep it short and do not use
//     the container from inside it (that deadlocks, as with sync.Mutex).
//     SetTimeout bounds this process's waits for the lock, and every
//     blocking method has a form taking a context ([Dict.SetContext],
//     [List.AppendContext], ...) that stops waiting when it ends.
//   - CompareAndSwap compares encoded bytes: for values through a Codec it
//     is meaningful only if equal values encode to equal bytes (Gob's maps
//     do not).
//   - Every process must use the same key and value types (checked) and the
//     same codec (not checked).
//   - Close must not race with operations in flight; operations after it
//     fail with shm.ErrClosed.
//   - Corrupted shared memory (a stray write into the heap) is detected
//     where it is read (ErrCorrupt) and never causes a fault, panic, hang
//     or unbounded allocation, but it is not repaired. A lock word written
//     over is taken over as a dead holder's, unless it names a live process
//     (this one included): then it holds the lock as that process would,
//     until a context or SetTimeout ends the wait. One changed while held
//     makes that operation return ErrCorrupt after its change was made.
package shared
