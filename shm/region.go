package shm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edsrzf/mmap-go"

	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/proc"
)

// errNotReady: the file is empty or its magic is not stored yet, as when a
// Create in another process is halfway through.
var errNotReady = fmt.Errorf("region header not written yet: %w", ErrNotRegion)

// MaxSize is the largest capacity a region may ask for (1 TiB). Larger sizes
// are refused as absurd, as are sizes beyond the machine's memory.
const MaxSize = 1 << 40

// Region is a shared-memory region mapped into this process.
//
// A Region is safe for concurrent use by several goroutines, and its objects
// by several processes. Close must not race with other use of the region or
// of views made from it: after Close the memory is unmapped, and a slice or
// pointer obtained earlier (Array.Slice, Value.Ptr) must not be touched.
type Region struct {
	_ noCopy

	mem  mmap.MMap
	hdr  *regionHeader // the live header; nil for raw regions
	file *os.File
	name string // "" for anonymous regions
	id   uint64 // 0 for raw regions
	size int64
	raw  bool

	mu      sync.Mutex // serializes Close, Unlink, KeepName
	owner   bool       // created by this process under a name: Close unlinks it
	closed  atomic.Bool
	unlinkd bool
}

// New creates an anonymous region: a memfd that no other process can find
// by name. It is passed to children as a file descriptor (spawn does that)
// and freed by the kernel when the last process closes it, so it cannot
// leak. Its size is sealed: nobody can shrink it under another process.
//
// size is the capacity for objects: one object of size bytes always fits;
// each further object costs a 64-byte header and rounding up to 64 bytes.
func New(size int64) (*Region, error) {
	fileSize, err := fileSizeFor(size)
	if err != nil {
		return nil, fmt.Errorf("create region: %w", err)
	}
	f, err := createAnonymous(fileSize)
	if err != nil {
		return nil, fmt.Errorf("create region: %w", err)
	}
	r, err := initialize(f, fileSize, "")
	if err != nil {
		return nil, fmt.Errorf("create region: %w", err)
	}
	return r, nil
}

// Create creates a named region, /dev/shm/NAME, as Python's
// SharedMemory(name=NAME, create=True) would, and fails with an error
// wrapping fs.ErrExist if the name is taken. name may start with one slash
// (the POSIX spelling); it may hold no other slash.
//
// The creating Region owns the name: its Close unlinks it, unless KeepName
// was called. Other processes open it with Open (or Python's
// SharedMemory(name=NAME)); their mappings stay valid after the unlink.
func Create(name string, size int64) (*Region, error) {
	name, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("create region %q: %w", name, err)
	}
	fileSize, err := fileSizeFor(size)
	if err != nil {
		return nil, fmt.Errorf("create region %q: %w", name, err)
	}
	f, err := createNamed(name, fileSize)
	if err != nil {
		return nil, fmt.Errorf("create region %q: %w", name, err)
	}
	r, err := initialize(f, fileSize, name)
	if err != nil {
		unlinkNamed(name)
		return nil, fmt.Errorf("create region %q: %w", name, err)
	}
	r.owner = true
	return r, nil
}

// Open attaches the named region /dev/shm/NAME, made by Create in this or
// another process. The header is checked: a file that is not a forkless
// region, is truncated, corrupt, or from a newer layout is refused and left
// untouched.
func Open(name string) (*Region, error) {
	name, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("open region %q: %w", name, err)
	}
	f, err := openNamed(name)
	if err != nil {
		return nil, fmt.Errorf("open region %q: %w", name, err)
	}
	// A concurrent Create may not have sized the file or stored its magic
	// yet; give it a moment, but do not wait on a file that is simply foreign.
	var r *Region
	for attempt := 0; ; attempt++ {
		r, err = attach(f, name)
		if err == nil || !errors.Is(err, errNotReady) || attempt == 20 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open region %q: %w", name, err)
	}
	return r, nil
}

// OpenRaw maps the named shared-memory file /dev/shm/NAME as plain bytes,
// with no forkless header: the way to read a segment made by Python's
// SharedMemory(create=True) or any other shm_open user. A raw region has no
// allocator and no handles; lay typed views over it with ArrayAt.
func OpenRaw(name string) (*Region, error) {
	name, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("open raw region %q: %w", name, err)
	}
	f, err := openNamed(name)
	if err != nil {
		return nil, fmt.Errorf("open raw region %q: %w", name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open raw region %q: %w", name, err)
	}
	if st.Size() <= 0 {
		f.Close()
		return nil, fmt.Errorf("open raw region %q: empty file: %w", name, ErrSize)
	}
	mem, err := mmap.MapRegion(f, int(st.Size()), mmap.RDWR, 0, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open raw region %q: map: %w", name, err)
	}
	return &Region{mem: mem, file: f, name: name, size: st.Size(), raw: true}, nil
}

// Attach maps a region from an open file descriptor, typically one inherited
// from the parent process. The header is checked as Open checks it. On
// success the Region owns f and closes it on Close; on failure f is left
// open for the caller.
func Attach(f *os.File) (*Region, error) {
	r, err := attach(f, "")
	if err != nil {
		return nil, fmt.Errorf("attach region: %w", err)
	}
	return r, nil
}

// Unlink removes the name /dev/shm/NAME. Processes that have the region
// mapped keep using it; the memory is freed when the last one closes it.
func Unlink(name string) error {
	name, err := cleanName(name)
	if err != nil {
		return fmt.Errorf("unlink region %q: %w", name, err)
	}
	if err := unlinkNamed(name); err != nil {
		return fmt.Errorf("unlink region %q: %w", name, err)
	}
	return nil
}

// fileSizeFor turns a requested capacity into the size of the region file.
func fileSizeFor(size int64) (int64, error) {
	if size <= 0 {
		return 0, fmt.Errorf("capacity %d: %w", size, ErrSize)
	}
	if size > MaxSize {
		return 0, fmt.Errorf("capacity %d exceeds MaxSize (%d): %w", size, int64(MaxSize), ErrSize)
	}
	total := headerSize + ObjectHeaderSize + roundUp(size, Align)
	return roundUp(total, pageSize), nil
}

const pageSize = 4096

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

func cleanName(name string) (string, error) {
	name = strings.TrimPrefix(name, "/")
	switch {
	case name == "":
		return name, fmt.Errorf("empty name: %w", ErrName)
	case len(name) > maxNameLen:
		return name, fmt.Errorf("name of %d bytes, at most %d: %w", len(name), maxNameLen, ErrName)
	case strings.ContainsAny(name, "/\x00"):
		return name, fmt.Errorf("name holds a slash or NUL: %w", ErrName)
	case name == "." || name == "..":
		return name, fmt.Errorf("name %q: %w", name, ErrName)
	}
	return name, nil
}

func newRegionID() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// initialize maps a new, zero-filled file of fileSize bytes and writes its
// header. It takes ownership of f.
func initialize(f *os.File, fileSize int64, name string) (*Region, error) {
	mem, err := mmap.MapRegion(f, int(fileSize), mmap.RDWR, 0, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map: %w", err)
	}
	self := proc.Self()
	hdr := mapped.Must[regionHeader](mem, 0) // fileSize >= headerSize, page-aligned
	hdr.write(regionFields{
		size:         fileSize,
		id:           newRegionID(),
		name:         name,
		creatorPid:   uint32(self.Pid),
		createdNanos: time.Now().UnixNano(),
		creatorStart: self.Start,
	})
	r := &Region{mem: mem, hdr: hdr, file: f, name: name, id: hdr.id, size: fileSize}
	// Publish: everything above happens before an attacher's load of magic.
	hdr.magic.Store(magic)
	register(r)
	return r, nil
}

func attach(f *os.File, name string) (*Region, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fileSize := st.Size()
	if fileSize == 0 {
		return nil, errNotReady
	}
	if fileSize < headerSize {
		// Checked before mapping: mapping and reading past the end of the
		// file would raise SIGBUS.
		return nil, fmt.Errorf("%d bytes is smaller than a region header: %w", fileSize, ErrNotRegion)
	}
	mem, err := mmap.MapRegion(f, int(fileSize), mmap.RDWR, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("map: %w", err)
	}
	// Parse a private copy, so the checks see one consistent snapshot. The
	// magic is loaded atomically first: it orders the reads of the fields
	// after the creator's writes.
	live := mapped.Must[regionHeader](mem, 0) // fileSize >= headerSize, page-aligned
	m := live.magic.Load()
	if m == 0 {
		mem.Unmap()
		return nil, errNotReady
	}
	priv := new(regionHeader)
	copy(mapped.Bytes(priv), mem[:headerSize])
	priv.magic.Store(m)
	// Other processes may be allocating: read their word whole.
	priv.allocNext.Store(live.allocNext.Load())
	if err := priv.Validate(fileSize); err != nil {
		mem.Unmap()
		return nil, err
	}
	if name == "" {
		name = priv.regionName()
	}
	r := &Region{mem: mem, hdr: live, file: f, name: name, id: priv.id, size: fileSize}
	register(r)
	return r, nil
}

// ID returns the region's random 64-bit identity, which handles carry. Raw
// regions have ID 0.
func (r *Region) ID() uint64 { return r.id }

// Name returns the region's name under /dev/shm, or "" for an anonymous one.
func (r *Region) Name() string { return r.name }

// Size returns the size of the region's file and mapping, header included.
func (r *Region) Size() int64 { return r.size }

// Raw reports whether the region was opened with OpenRaw.
func (r *Region) Raw() bool { return r.raw }

// File returns the region's descriptor, for passing to another process. It
// stays owned by the Region.
func (r *Region) File() *os.File { return r.file }

func (r *Region) String() string {
	switch {
	case r.raw:
		return fmt.Sprintf("shm.Region(raw %q, %d bytes)", r.name, r.size)
	case r.name != "":
		return fmt.Sprintf("shm.Region(%016x %q, %d bytes)", r.id, r.name, r.size)
	}
	return fmt.Sprintf("shm.Region(%016x anonymous, %d bytes)", r.id, r.size)
}

// KeepName stops Close from unlinking a region this process created under a
// name, so that it outlives its creator. Someone must then call Unlink.
func (r *Region) KeepName() {
	r.mu.Lock()
	r.owner = false
	r.mu.Unlock()
}

// Unlink removes the region's name from /dev/shm now. The mapping stays
// valid until Close.
func (r *Region) Unlink() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.name == "" {
		return fmt.Errorf("unlink region: anonymous region has no name: %w", ErrName)
	}
	if r.unlinkd {
		return nil
	}
	if err := unlinkNamed(r.name); err != nil {
		return fmt.Errorf("unlink region %q: %w", r.name, err)
	}
	r.unlinkd = true
	return nil
}

// Close unmaps the region and closes its descriptor; a named region created
// by this process is also unlinked (see KeepName). Other processes are not
// affected. Closing twice returns ErrClosed.
func (r *Region) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Swap(true) {
		return fmt.Errorf("close region: %w", ErrClosed)
	}
	unregister(r)
	var errs []error
	if r.owner && !r.unlinkd && r.name != "" {
		if err := unlinkNamed(r.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		r.unlinkd = true
	}
	if err := r.mem.Unmap(); err != nil {
		errs = append(errs, err)
	}
	if err := r.file.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close region: %w", err)
	}
	return nil
}

func (r *Region) checkOpen() error {
	if r.closed.Load() {
		return ErrClosed
	}
	return nil
}
