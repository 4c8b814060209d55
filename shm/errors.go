package shm

import (
	"errors"

	"github.com/forkless-go/forkless/internal/errs"
)

// The meanings every forkless package shares, declared once. Every
// package's own "closed", "corrupt" and "too large" errors (ring's, sync's,
// shared's, ...) match these with errors.Is, so one test catches every
// package's case:
//
//	if errors.Is(err, shm.ErrClosed) { ... } // whatever was closed
var (
	// ErrClosed: the region (or an object in it) was closed in this
	// process, or its peer closed it.
	ErrClosed = errs.ErrClosed
	// ErrCorrupt: the header or an object header holds impossible values;
	// other packages' corrupt errors match it too.
	ErrCorrupt = errs.ErrCorrupt
	// ErrTooLarge: a message, entry or result can never fit; nothing was
	// written.
	ErrTooLarge = errs.ErrTooLarge
)

// Sentinel errors of this package. Every error returned by this package
// wraps one of these or of the shared meanings above, or fs.ErrExist /
// fs.ErrNotExist for names, or errors.ErrUnsupported on a system without
// shared-memory support; test with errors.Is.
var (
	// ErrNotRegion: the file does not start with a forkless region header.
	ErrNotRegion = errors.New("not a forkless region")
	// ErrTruncated: the file is shorter than its header says.
	ErrTruncated = errors.New("region truncated")
	// ErrVersion: the region was made by a newer layout than this build reads.
	ErrVersion = errors.New("region layout too new")
	// ErrSize: a size or length is zero, negative, overflows, or is absurd.
	ErrSize = errors.New("invalid size")
	// ErrName: a region name is empty, too long, or holds a slash or NUL.
	ErrName = errors.New("invalid region name")
	// ErrNoSpace: the region (or /dev/shm) has no room for the request.
	ErrNoSpace = errors.New("no space left")
	// ErrRange: an index or offset lies outside the object.
	ErrRange = errors.New("index out of range")
	// ErrHandle: a handle does not describe an object of this region.
	ErrHandle = errors.New("invalid handle")
	// ErrKind: a handle names an object of another kind than asked for.
	ErrKind = errors.New("wrong object kind")
	// ErrType: a handle names an object of another element type.
	ErrType = errors.New("wrong element type")
	// ErrNotAttached: a handle names a region this process has not attached.
	ErrNotAttached = errors.New("region not attached in this process")
	// ErrRaw: the region is raw (no forkless header), so it has no allocator
	// and no handles; use ArrayAt for views at fixed offsets.
	ErrRaw = errors.New("raw region has no allocator")
	// ErrFree: Heap.Free was given an offset that is not a block in use:
	// never allocated, freed twice, or outside the heap. Nothing was changed.
	ErrFree = errors.New("invalid free")
)

func init() {
	errs.Register(ErrClosed, ErrCorrupt, ErrTooLarge, ErrNotRegion, ErrTruncated, ErrVersion, ErrSize, ErrName,
		ErrNoSpace, ErrRange, ErrHandle, ErrKind, ErrType, ErrNotAttached, ErrRaw, ErrFree)
}
