package queue

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/forkless-go/forkless/shm"
)

// Messages larger than a ring's inline limit (half its capacity, less a
// header) travel in a spill region: a named region of their own under
// /dev/shm, whose name travels in a small record flagged recFlagSpill. The
// payload is copied once into the spill region by the producer (or written
// there in place through Reserve) and read in place by the consumer
// (Take) or copied out once (Get); the ring itself carries 72 bytes.
//
// Spill record payload:
//
//	offset size field
//	     0    8 size     bytes of the spill region's object
//	     8    8 length   message bytes (<= size; Reservation.Commit may shorten it)
//	    16   64 name     region name, NUL-padded: "forkless-spill-" + 32 hex digits
//
// Life of a spill region, and who removes its name in each case:
//
//  1. The producer claims the record, writes the name into it, then creates
//     the region (so a producer that dies at any point has already left the
//     name where a recoverer finds it), fills it and commits.
//  2. The consumer takes the record, opens the region and unlinks its name
//     at once: from then on the kernel frees the memory when the consumer
//     unmaps it, crash or not.
//  3. A record whose producer died before commit is freed by a consumer
//     (takeReady), which unlinks the name; one whose consumer died before
//     unlinking is freed by a producer waiting for room (roomFor), which
//     unlinks it. Unlinking a name that is not there is not an error.
//
// What can leak: the region of a message whose producer died between
// claiming and committing, when no consumer ever comes to skip the record
// and the whole ring is abandoned; the name is still in the ring's bytes.
const (
	spillPrefix  = "forkless-spill-"
	spillNameLen = 64
	spillPayload = 16 + spillNameLen
)

// setSpillLength sets the message length of a spill record whose payload
// starts at pl (Reservation.Commit may shorten the message).
func setSpillLength(pl []byte, n uint64) { binary.LittleEndian.PutUint64(pl[8:], n) }

// spillHandle is where a spill region's single object lives: the first
// object of a fresh region (r nil: only the offset and size matter).
func spillHandle(r *shm.Region, n int64) shm.Handle {
	h := shm.Handle{Offset: shm.DataOffset + shm.ObjectHeaderSize, Size: n, Kind: KindSpill}
	if r != nil {
		h.Region = r.ID()
	}
	return h
}

// spillDir is where named regions live (shm.Create's directory on Linux).
const spillDir = "/dev/shm/"

func newSpillName() string {
	var b [16]byte
	rand.Read(b[:])
	return spillPrefix + hex.EncodeToString(b[:])
}

// validSpillName accepts only names this package makes, so that a corrupt
// record can never make us unlink or open anything else.
func validSpillName(s string) bool {
	if len(s) != len(spillPrefix)+32 || !strings.HasPrefix(s, spillPrefix) {
		return false
	}
	for _, c := range s[len(spillPrefix):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// spillInfo decodes a spill record's payload: name, object size, message
// length.
func spillInfo(payload []byte) (string, int64, int64, error) {
	if len(payload) != spillPayload {
		return "", 0, 0, fmt.Errorf("spill record of %d bytes: %w", len(payload), ErrCorrupt)
	}
	n := binary.LittleEndian.Uint64(payload)
	m := binary.LittleEndian.Uint64(payload[8:])
	name := string(payload[16:])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if !validSpillName(name) || n == 0 || n > shm.MaxSize || m > n {
		return "", 0, 0, fmt.Errorf("spill record names %q, %d of %d bytes: %w", name, m, n, ErrCorrupt)
	}
	return name, int64(n), int64(m), nil
}

// dropSpill unlinks the spill region named by the record at p (which the
// caller has just freed from a dead owner). Errors are ignored: the name
// may be gone already, or may never have been created.
func (q *records) dropSpill(p uint64) {
	if q.area != nil {
		q.dropArea(p)
		return
	}
	s, err := q.span(p)
	if err != nil {
		return
	}
	b, err := q.payload(p, s)
	if err != nil {
		return
	}
	if name, _, _, err := spillInfo(b); err == nil {
		shm.Unlink(name) //nolint:errcheck // best effort, see above
	}
}

// spillWriter is a producer's half-made spill message.
type spillWriter struct {
	reg *shm.Region
	buf []byte
}

// startSpill writes the spill record's payload (at claimed position p),
// then creates the region for n bytes. On failure the record is aborted
// and the name removed: nothing is delivered.
func (q *records) startSpill(p uint64, n int64) (*spillWriter, error) {
	name := newSpillName()
	off := int(p&q.mask) + recHdr
	pl := q.data[off : off+spillPayload]
	binary.LittleEndian.PutUint64(pl, uint64(n))
	binary.LittleEndian.PutUint64(pl[8:], uint64(n))
	clear(pl[16:])
	copy(pl[16:], name)
	reg, err := shm.Create(name, n)
	if err != nil {
		q.abort(p)
		return nil, fmt.Errorf("put %d bytes: spill region: %w (%w)", n, ErrTooLarge, err)
	}
	blk, err := reg.Alloc(shm.Layout{Kind: KindSpill, Size: n})
	if err != nil {
		reg.Close() // unlinks: this process created it
		q.abort(p)
		return nil, fmt.Errorf("put %d bytes: spill region: %w (%w)", n, ErrTooLarge, err)
	}
	return &spillWriter{reg: reg, buf: blk.Bytes()}, nil
}

// finish keeps the name for the consumer, unmaps the region and commits.
func (q *records) finishSpill(p uint64, w *spillWriter) error {
	w.reg.KeepName()
	if err := w.reg.Close(); err != nil {
		shm.Unlink(w.reg.Name()) //nolint:errcheck
		q.abort(p)
		return fmt.Errorf("put: spill region: %w", err)
	}
	return q.commit(p, spillPayload)
}

func (q *records) abortSpill(p uint64, w *spillWriter) {
	w.reg.Close() // unlinks: the name is still owned
	q.abort(p)
}

// readSpill reads the message of the spill file a taken record names into
// memory of this process, and unlinks the name at once. It reads with
// pread, never through a mapping: any process of the same user can
// truncate a named file, and a reader of a truncated mapping dies of
// SIGBUS, while a short read is only this message's ErrCorrupt. The cost
// is one copy (a spill area, Config.Spill, has neither the copy nor the
// file).
func (q *records) readSpill(p uint64) ([]byte, error) {
	s, err := q.span(p)
	if err != nil {
		return nil, err
	}
	pl, err := q.payload(p, s)
	if err != nil {
		return nil, err
	}
	name, n, m, err := spillInfo(pl)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(spillDir + name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("get: spill region %s is gone: %w", name, ErrCorrupt)
		}
		return nil, fmt.Errorf("get: spill region: %w", err)
	}
	defer f.Close()
	shm.Unlink(name) //nolint:errcheck // best effort; a recoverer retries
	buf := make([]byte, m)
	if _, err := f.ReadAt(buf, spillHandle(nil, n).Offset); err != nil {
		return nil, fmt.Errorf("get: spill region %s holds less than its %d bytes (truncated?): %w", name, m, ErrCorrupt)
	}
	return buf, nil
}
