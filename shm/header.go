package shm

import (
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"

	"github.com/forkless-go/forkless/internal/mapped"
)

// regionHeader is the first page of every forkless region, at offset 0 of
// the file. Its layout is fixed: Python (and any other reader of
// /dev/shm/NAME) finds the fields at the offsets pinned below. Integers are
// in the machine's byte order: little-endian on amd64 and arm64, as readers
// outside Go expect.
//
// The creator writes every field of a new, zero-filled file, then stores
// magic last: an attacher that loads magic (atomically, first) sees every
// field the creator wrote. After that hand-off only allocNext and
// allocCount change; every other field is constant for the region's life.
// An attacher parses a private copy (see attach), never the live page, so
// its checks see one snapshot that no other process can change under them.
type regionHeader struct {
	// magic is "FORKLESS"; the creator stores it last, attachers load it
	// first (the publish hand-off of the whole header).
	magic atomic.Uint64
	// version: the layout version the creator wrote; attach refuses newer
	// than LayoutVersion.
	version uint32
	// dataOffset is always DataOffset (4096), for readers that do not
	// know the layout version.
	dataOffset uint32
	// size: bytes in the file; attach refuses a file of another size.
	size uint64
	// id: random, never 0; handles name the region by it.
	id uint64
	// creatorPid, createdNanos, creatorStart: diagnostics (creatorStart
	// tells a reused pid apart).
	creatorPid uint32
	// flags: flagNamed when the region has a name under /dev/shm.
	flags        uint32
	createdNanos int64
	creatorStart uint64
	// crc: CRC-32C of bytes 8..56 and of name; attach refuses a mismatch.
	crc uint32
	_   uint32
	// allocNext: offset of the next free byte of the data area. Any
	// attached process claims [allocNext, allocNext+n) with a
	// compare-and-swap (Region.Alloc); it only grows.
	allocNext atomic.Uint64
	// allocCount: objects allocated, added to after each claim; for Stats.
	allocCount atomic.Uint64
	_          [48]byte
	// name: the region's name, NUL-padded; diagnostics.
	name [nameField]byte
	_    [headerSize - offName - nameField]byte
}

// The field offsets of regionHeader, the layout readers outside Go rely on.
const (
	headerSize = 4096 // also the offset of the data area

	offMagic        = 0
	offVersion      = 8
	offDataOffset   = 12
	offSize         = 16
	offID           = 24
	offCreatorPid   = 32
	offFlags        = 36
	offCreatedNanos = 40
	offCreatorStart = 48
	offCRC          = 56
	offAllocNext    = 64
	offAllocCount   = 72
	offName         = 128
	maxNameLen      = 255
	nameField       = 256

	flagNamed = 1 << 0

	// magic is "FORKLESS" read as a little-endian uint64.
	magic = uint64('F') | uint64('O')<<8 | uint64('R')<<16 | uint64('K')<<24 |
		uint64('L')<<32 | uint64('E')<<40 | uint64('S')<<48 | uint64('S')<<56
)

// Each line fails to compile unless the struct field sits at its offset.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.magic)-offMagic]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.version)-offVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.dataOffset)-offDataOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.size)-offSize]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.id)-offID]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.creatorPid)-offCreatorPid]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.flags)-offFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.createdNanos)-offCreatedNanos]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.creatorStart)-offCreatorStart]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.crc)-offCRC]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.allocNext)-offAllocNext]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.allocCount)-offAllocCount]
	_ = [1]struct{}{}[unsafe.Offsetof(regionHeader{}.name)-offName]
	_ = [1]struct{}{}[unsafe.Sizeof(regionHeader{})-headerSize]
)

// LayoutVersion is the version of the region layout this build writes. It
// attaches regions of this version or older and refuses newer ones.
const LayoutVersion = 1

// DataOffset is where the data area starts in every forkless region: the
// first object's payload sits at DataOffset+ObjectHeaderSize. A Python
// process that opens a forkless region finds an object at the offset its
// handle names (see Handle.String).
const DataOffset = headerSize

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// regionFields are what a creator chooses for a new region's header.
type regionFields struct {
	size         int64
	id           uint64
	name         string
	creatorPid   uint32
	createdNanos int64
	creatorStart uint64
}

// write fills a zero header with f, except magic, which the caller stores
// last to publish the header.
func (h *regionHeader) write(f regionFields) {
	h.version = LayoutVersion
	h.dataOffset = headerSize
	h.size = uint64(f.size)
	h.id = f.id
	h.creatorPid = f.creatorPid
	if f.name != "" {
		h.flags |= flagNamed
	}
	h.createdNanos = f.createdNanos
	h.creatorStart = f.creatorStart
	copy(h.name[:], f.name)
	h.allocNext.Store(headerSize)
	h.crc = h.checksum()
}

// checksum is the CRC-32C of the constant fields (bytes 8..56) and the name.
func (h *regionHeader) checksum() uint32 {
	b := mapped.Bytes(h)
	c := crc32.Update(0, castagnoli, b[offVersion:offCRC])
	return crc32.Update(c, castagnoli, h.name[:])
}

// Validate checks a private copy of a header that another process wrote
// (or anything else that sits in a file) against the size of the file it
// came from. Every field that later bounds memory is checked here, so a
// corrupt or hostile file yields an error, never a fault.
func (h *regionHeader) Validate(fileSize int64) error {
	if m := h.magic.Load(); m != magic {
		return fmt.Errorf("magic %#016x: %w", m, ErrNotRegion)
	}
	if h.version > LayoutVersion {
		return fmt.Errorf("layout version %d, this build reads up to %d: %w", h.version, LayoutVersion, ErrVersion)
	}
	if got, want := h.crc, h.checksum(); got != want {
		return fmt.Errorf("header checksum %#x, computed %#x: %w", got, want, ErrCorrupt)
	}
	if h.version == 0 {
		return fmt.Errorf("layout version 0: %w", ErrCorrupt)
	}
	if h.dataOffset != headerSize {
		return fmt.Errorf("data offset %d, want %d: %w", h.dataOffset, headerSize, ErrCorrupt)
	}
	size := int64(h.size)
	if size < headerSize || size > MaxSize+headerSize {
		return fmt.Errorf("recorded size %d: %w", size, ErrCorrupt)
	}
	if fileSize < size {
		return fmt.Errorf("file holds %d of the region's %d bytes: %w", fileSize, size, ErrTruncated)
	}
	if fileSize > size {
		return fmt.Errorf("file holds %d bytes, region records %d: %w", fileSize, size, ErrCorrupt)
	}
	if h.id == 0 {
		return fmt.Errorf("region id 0: %w", ErrCorrupt)
	}
	if next := h.allocNext.Load(); next < headerSize || next > h.size || next%Align != 0 {
		return fmt.Errorf("allocation offset %d outside [%d, %d]: %w", next, headerSize, h.size, ErrCorrupt)
	}
	if h.nameLen() > maxNameLen {
		return fmt.Errorf("name not terminated: %w", ErrCorrupt)
	}
	return nil
}

func (h *regionHeader) nameLen() int {
	n := 0
	for n < len(h.name) && h.name[n] != 0 {
		n++
	}
	return n
}

// regionName returns the name a validated header records.
func (h *regionHeader) regionName() string { return string(h.name[:h.nameLen()]) }
