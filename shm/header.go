package shm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The region header fills the first page of every forkless region. All
// integers are little-endian. The creator writes every field, then stores the
// magic last, atomically: a process that attaches and sees the magic sees a
// complete header (the atomic store and load make the hand-off).
//
//	offset size field        written by        read by
//	     0    8 magic        creator, last     attach (must be "FORKLESS")
//	     8    4 version      creator           attach (refuse newer than LayoutVersion)
//	    12    4 dataOffset   creator           attach, Python users (always 4096)
//	    16    8 size         creator           attach (must equal the file size)
//	    24    8 id           creator           handles (names the region)
//	    32    4 creatorPid   creator           diagnostics
//	    36    4 flags        creator           attach (bit 0: named)
//	    40    8 createdNanos creator           diagnostics
//	    48    8 creatorStart creator           diagnostics (pid reuse)
//	    56    4 crc          creator           attach (CRC-32C of 8..56 and the name)
//	    60    4 reserved
//	    64    8 allocNext    allocator, CAS    allocator: next free offset (own cache line)
//	    72    8 allocCount   allocator, add    Stats: objects allocated
//	   128  256 name         creator           diagnostics, NUL-padded
//	   384 3712 reserved, zero
//	  4096      data: objects, each behind a 64-byte object header
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

// LayoutVersion is the version of the region layout this build writes. It
// attaches regions of this version or older and refuses newer ones.
const LayoutVersion = 1

// DataOffset is where the data area starts in every forkless region: the
// first object's payload sits at DataOffset+ObjectHeaderSize. A Python
// process that opens a forkless region finds an object at the offset its
// handle names (see Handle.String).
const DataOffset = headerSize

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the decoded, validated form of a region header.
type header struct {
	version      uint32
	size         int64
	id           uint64
	creatorPid   uint32
	flags        uint32
	createdNanos int64
	creatorStart uint64
	allocNext    uint64
	name         string
}

// writeHeader fills b (at least headerSize bytes) with h, except the magic,
// which the caller stores last.
func writeHeader(b []byte, h header) {
	le := binary.LittleEndian
	le.PutUint32(b[offVersion:], h.version)
	le.PutUint32(b[offDataOffset:], headerSize)
	le.PutUint64(b[offSize:], uint64(h.size))
	le.PutUint64(b[offID:], h.id)
	le.PutUint32(b[offCreatorPid:], h.creatorPid)
	le.PutUint32(b[offFlags:], h.flags)
	le.PutUint64(b[offCreatedNanos:], uint64(h.createdNanos))
	le.PutUint64(b[offCreatorStart:], h.creatorStart)
	copy(b[offName:offName+nameField], h.name)
	le.PutUint64(b[offAllocNext:], h.allocNext)
	le.PutUint32(b[offCRC:], headerCRC(b))
}

func headerCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[offVersion:offCRC])
	return crc32.Update(c, castagnoli, b[offName:offName+nameField])
}

// parseHeader checks the header in b against the size of the file it came
// from. It reads only b: it never trusts a field to index memory before the
// field has been checked, so a corrupt or hostile file yields an error, not a
// fault. b holds the first min(fileSize, headerSize) bytes of the file.
func parseHeader(b []byte, fileSize int64) (header, error) {
	if fileSize < headerSize || len(b) < headerSize {
		return header{}, fmt.Errorf("%d bytes is smaller than a region header: %w", fileSize, ErrNotRegion)
	}
	le := binary.LittleEndian
	if m := le.Uint64(b[offMagic:]); m != magic {
		return header{}, fmt.Errorf("magic %#016x: %w", m, ErrNotRegion)
	}
	h := header{
		version:      le.Uint32(b[offVersion:]),
		size:         int64(le.Uint64(b[offSize:])),
		id:           le.Uint64(b[offID:]),
		creatorPid:   le.Uint32(b[offCreatorPid:]),
		flags:        le.Uint32(b[offFlags:]),
		createdNanos: int64(le.Uint64(b[offCreatedNanos:])),
		creatorStart: le.Uint64(b[offCreatorStart:]),
		allocNext:    le.Uint64(b[offAllocNext:]),
	}
	if h.version > LayoutVersion {
		return header{}, fmt.Errorf("layout version %d, this build reads up to %d: %w", h.version, LayoutVersion, ErrVersion)
	}
	if got, want := le.Uint32(b[offCRC:]), headerCRC(b); got != want {
		return header{}, fmt.Errorf("header checksum %#x, computed %#x: %w", got, want, ErrCorrupt)
	}
	if h.version == 0 {
		return header{}, fmt.Errorf("layout version 0: %w", ErrCorrupt)
	}
	if d := le.Uint32(b[offDataOffset:]); d != headerSize {
		return header{}, fmt.Errorf("data offset %d, want %d: %w", d, headerSize, ErrCorrupt)
	}
	if h.size < headerSize || h.size > MaxSize+headerSize {
		return header{}, fmt.Errorf("recorded size %d: %w", h.size, ErrCorrupt)
	}
	if fileSize < h.size {
		return header{}, fmt.Errorf("file holds %d of the region's %d bytes: %w", fileSize, h.size, ErrTruncated)
	}
	if fileSize > h.size {
		return header{}, fmt.Errorf("file holds %d bytes, region records %d: %w", fileSize, h.size, ErrCorrupt)
	}
	if h.id == 0 {
		return header{}, fmt.Errorf("region id 0: %w", ErrCorrupt)
	}
	if h.allocNext < headerSize || h.allocNext > uint64(h.size) || h.allocNext%Align != 0 {
		return header{}, fmt.Errorf("allocation offset %d outside [%d, %d]: %w", h.allocNext, headerSize, h.size, ErrCorrupt)
	}
	name := b[offName : offName+nameField]
	n := 0
	for n < len(name) && name[n] != 0 {
		n++
	}
	if n > maxNameLen {
		return header{}, fmt.Errorf("name not terminated: %w", ErrCorrupt)
	}
	h.name = string(name[:n])
	return h, nil
}
