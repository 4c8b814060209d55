// Package shm maps shared memory into several processes and places typed
// objects in it, zero-copy: Python's shared_memory, RawValue and RawArray
// for Go.
//
// A [Region] is a file of shared pages, mapped by each process that uses it:
//
//   - [New] makes an anonymous region, a sealed memfd. It reaches other
//     processes as an inherited descriptor (package spawn passes it, [Attach]
//     maps it) and the kernel frees it when the last process closes it: it
//     cannot leak, and no receiver can shrink it under the others.
//   - [Create] makes a named region, /dev/shm/NAME, where Python's
//     SharedMemory(name=NAME) looks; any process can [Open] it. The creator
//     owns the name and its Close unlinks it ([Region.KeepName] hands it on).
//     [OpenRaw] maps any such file, a Python segment say, as plain bytes.
//
// [Region.Alloc] places objects in a region; several processes may allocate
// at once. Each object sits behind a 64-byte header (its [Kind], size and
// element type) at a 64-byte-aligned offset, so no two objects share a
// cache line. [Value] and [Array] are typed views of objects, for any T that
// is fixed-size and pointer-free (numbers, arrays and structs of them, the
// sync/atomic types); a T holding a pointer, string, slice, map, interface,
// channel or func is refused with an error naming the field. NewValue
// takes an initial value, [NewArrayOf] initial elements, and Array's Get
// and Set Python's negative indexes ([Index]: -1 is the last).
//
// A [Handle] names an object (region id, offset, size, kind, element type).
// It is fixed-size and pointer-free, so it can be passed to a child, stored
// in shared memory, or printed and parsed as text. Binding it ([OpenValue],
// [OpenArray], [Region.Bind]) checks it against the object's header: a
// handle of the wrong kind, type or region, or outside what was allocated,
// is an error, never a wild read.
//
// A [Heap] ([NewHeap], [OpenHeap]) is an allocator with Free inside one
// object, for things that come and go (package shared's entries). It is
// lock-free, survives a process killed at any instruction (at worst one
// block leaks), and never grows: see [Heap] for its capacity model.
//
//	r, _ := shm.New(1 << 20)
//	arr, _ := shm.NewArray[float64](r, 1000)
//	p, _ := work.Start(ctx, arr.Handle(), spawn.Share(r))
//
//	// in the child's function:
//	arr, err := shm.OpenArray[float64](h)
//	s := arr.Slice() // the parent's memory, not a copy
//
// Layout: a region starts with a one-page header ([DataOffset] bytes, the
// regionHeader struct in header.go); objects follow, each behind an
// objectHeader ([ObjectHeaderSize] bytes, alloc.go), and a handle's Offset
// names the payload. A Python process that opened the region finds an
// object's bytes at buf[OFFSET:OFFSET+SIZE] of its handle's text form
// ([Handle.String]). Memory ordering, arm64 too: a region's and an object's
// header are published by their magic word (stored last, loaded first); a
// heap block passes from Free to Alloc through its free list's head CAS.
// An object's own bytes are its user's to order (atomics, package sync).
//
// Errors wrap this package's sentinels ([ErrClosed], [ErrCorrupt],
// [ErrNoSpace], ...; test with errors.Is). [ErrClosed], [ErrCorrupt] and
// [ErrTooLarge] are the meanings every forkless package shares: another
// package's closed, corrupt or too-large error matches them too.
//
// Caveats:
//
//   - Regions do not grow, and the region's own allocator never frees:
//     New(size) holds one object of size bytes; each further object costs a
//     64-byte header and rounding to 64 bytes.
//   - Close unmaps. A slice or pointer taken from a view ([Array.Slice],
//     [Value.Ptr]) must not be used after Close, and Close must not race
//     with other use of the region in this process.
//   - Value and Array do no locking (Python's RawValue, RawArray): several
//     writers need atomic elements, a lock from package sync, or sync's
//     Value and Array, which carry their lock.
//   - Anyone with write access can truncate a named region's file; the
//     others then fault (SIGBUS) on the lost pages. Attach refuses a
//     truncated file but cannot guard a mapping made before. Anonymous
//     regions are sealed against this.
//   - A named region whose creator is killed before Close stays in /dev/shm
//     until someone calls [Unlink], as with Python's SharedMemory.
//   - Python 3.12 and older unlink every segment they opened when they exit;
//     open forkless regions with track=False (3.13) or unregister them from
//     the resource tracker, as testdata/pyshm.py does.
//   - Regions work on Linux. Elsewhere New, Create, Open and OpenRaw return
//     an error wrapping errors.ErrUnsupported.
package shm
