package shm

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/forkless-go/forkless/internal/mapped"
)

// writeHeader fills b (at least headerSize bytes, 8-aligned) with a header
// as a creator writes it, magic included.
func writeHeader(b []byte, f regionFields) {
	h := mapped.Must[regionHeader](b, 0)
	h.write(f)
	h.magic.Store(magic)
}

func reCRC(b []byte) {
	binary.LittleEndian.PutUint32(b[offCRC:], mapped.Must[regionHeader](b, 0).checksum())
}

// parseHeader checks the header in b (the first min(fileSize, headerSize)
// bytes of a file) as attach checks its private copy.
func parseHeader(b []byte, fileSize int64) (*regionHeader, error) {
	if fileSize < headerSize || len(b) < headerSize {
		return nil, ErrNotRegion
	}
	h := new(regionHeader)
	copy(mapped.Bytes(h), b)
	if err := h.Validate(fileSize); err != nil {
		return nil, err
	}
	return h, nil
}

func FuzzParseHeader(f *testing.F) {
	valid := make([]byte, headerSize)
	writeHeader(valid, regionFields{size: 2 * headerSize, id: 7, name: "seed"})
	f.Add(valid, int64(2*headerSize))
	f.Add(valid[:100], int64(100))
	newer := append([]byte(nil), valid...)
	binary.LittleEndian.PutUint32(newer[offVersion:], 9)
	reCRC(newer)
	f.Add(newer, int64(2*headerSize))
	f.Add(make([]byte, headerSize), int64(headerSize))
	f.Fuzz(func(t *testing.T, b []byte, fileSize int64) {
		h, err := parseHeader(b, fileSize)
		if err != nil {
			if !errors.Is(err, ErrNotRegion) && !errors.Is(err, ErrVersion) &&
				!errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("parseHeader error %v wraps no sentinel", err)
			}
			return
		}
		// Whatever was accepted must be safe to use.
		size, next := int64(h.size), h.allocNext.Load()
		if size != fileSize || size < headerSize || next < headerSize ||
			next > uint64(size) || next%Align != 0 || h.version > LayoutVersion || h.id == 0 {
			t.Fatalf("accepted an unsafe header: size %d next %d version %d id %d for a %d-byte file",
				size, next, h.version, h.id, fileSize)
		}
	})
}
