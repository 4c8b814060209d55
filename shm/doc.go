// Package shm maps shared memory into several processes and places typed
// objects in it, zero-copy: Python's shared_memory, RawValue and RawArray
// for Go.
//
// A Region is a file of shared pages, mapped by each process that uses it:
//
//   - New makes an anonymous region, a memfd. Nobody can find it by name; it
//     reaches other processes as an inherited descriptor (package spawn passes
//     it to children) and the kernel frees it when the last process closes it,
//     so it cannot leak. Its size is sealed, so no receiver can shrink it
//     under the others.
//   - Create makes a named region, /dev/shm/NAME, exactly where POSIX
//     shm_open and Python's SharedMemory(name=NAME) look. Any process can Open
//     it by name. The creator owns the name and its Close unlinks it
//     (KeepName hands the name on). OpenRaw maps any such file, a Python
//     segment for instance, as plain bytes.
//
// Objects are placed in a region by a small allocator that several processes
// may call at once. Each object gets a 64-byte header (its kind, size and
// element type) and a 64-byte-aligned payload, so no two objects' hot words
// share a cache line. Value[T] and Array[T] are typed views of payloads, for
// any T that is fixed-size and pointer-free: numbers, arrays and structs of
// them, and the sync/atomic types. A T holding a pointer, string, slice,
// map, interface, channel or func is refused with an error naming the field,
// because its bytes would mean nothing in another process.
//
// A Handle names an object: region id, offset, size, kind and element type.
// It is fixed-size and pointer-free itself, so it can be passed to a child,
// stored in shared memory, or printed and parsed as text. Binding a handle
// (OpenValue, OpenArray, Region.Bind) checks it against the object header
// in the region: a handle of the wrong kind, element type or region, or one
// that points outside what was allocated, is an error, never a wild read.
//
// A Heap (NewHeap, OpenHeap) is a general allocator with Free inside one
// block of a region, for objects that come and go (the entries of package
// shared's dicts and lists). Several processes allocate and free at once
// without a lock: per-size-class free lists are Treiber stacks whose heads
// carry an ABA tag, and new blocks are carved with a compare-and-swap, so a
// process killed at any instruction leaves the heap usable (at worst one
// block leaks). Blocks are named by their offset in the heap, the same in
// every process. A heap never grows: a request with no free block of its
// size class (or of one up to 4 times larger) and no arena left fails with
// ErrNoSpace; Stats tells how full it is.
//
// Sharing with a child started by package spawn:
//
//	r, _ := shm.New(1 << 20)
//	arr, _ := shm.NewArray[float64](r, 1000)
//	p, _ := work.Start(ctx, arr.Handle(), spawn.Share(r))
//
//	// in the child's function:
//	arr, err := shm.OpenArray[float64](h)
//	s := arr.Slice() // the parent's memory, not a copy
//
// # Memory layout
//
// All integers are little-endian. A region is one page of header followed by
// the data area:
//
//	0      8 magic "FORKLESS"   stored last by the creator: attachers that see it see the rest
//	8      4 layout version     this build writes 1 and refuses newer
//	12     4 data offset        4096
//	16     8 size               bytes in the file; attach refuses a shorter file
//	24     8 region id          random, carried by handles
//	32..63   creator pid, flags, creation time, creator start time, CRC-32C
//	64     8 allocation offset  next free byte; claimed by CAS (its own cache line)
//	72     8 object count
//	128  256 name               NUL-padded
//	4096     data area: [64-byte object header][payload rounded up to 64] ...
//
// An object header holds a magic word stored last (so a binder never sees a
// half-written header), the kind, the payload size, the element size and
// type fingerprint, and the allocating pid. The payload of the first object
// starts at DataOffset+ObjectHeaderSize, 4160; a handle's Offset always
// names the payload.
//
// A Python process that opens a forkless region with
// SharedMemory(name=NAME) reads the header from buf[0:4096] and finds an
// object at the offset its handle names:
//
//	# handle text: forkless:1:REGION:KIND:OFFSET:SIZE:ELEM:TYPE
//	_, _, _, _, off, size, _, _ = handle.split(":")
//	arr = shm.buf[int(off):int(off) + int(size)].cast("Q")  # uint64 elements
//
// # Caveats
//
//   - Regions do not grow, and the region's own allocator never frees (a
//     Heap inside the region does): size a region for what it will hold (New(size) holds one object of size bytes; each
//     further object costs a 64-byte header and rounding to 64 bytes).
//   - Close unmaps. A slice or pointer taken from a view (Array.Slice,
//     Value.Ptr) must not be used after Close, and Close must not race with
//     other use of the region in this process.
//   - Value and Array do no locking. Several processes writing the same
//     elements need a lock from package sync, or atomic element types.
//   - A named region can be truncated by anyone with write access to its
//     file; the other processes then fault (SIGBUS) on the lost pages. Attach
//     refuses a truncated file, but cannot guard a mapping made before.
//     Anonymous regions are sealed against this.
//   - A named region whose creator is killed before Close stays in /dev/shm
//     until someone calls Unlink, as with Python's SharedMemory.
//   - Python 3.12 and older track every segment they open and unlink it when
//     the Python process exits; open forkless regions with track=False
//     (3.13) or call resource_tracker.unregister, as testdata/pyshm.py does.
//   - Regions work on Linux. Elsewhere New, Create, Open and OpenRaw return
//     an error wrapping errors.ErrUnsupported.
package shm
