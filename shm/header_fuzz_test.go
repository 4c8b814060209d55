package shm

import (
	"encoding/binary"
	"errors"
	"testing"
)

func reCRC(b []byte) { binary.LittleEndian.PutUint32(b[offCRC:], headerCRC(b)) }

func FuzzParseHeader(f *testing.F) {
	valid := make([]byte, headerSize)
	writeHeader(valid, header{version: LayoutVersion, size: 2 * headerSize, id: 7, allocNext: headerSize, name: "seed"})
	binary.LittleEndian.PutUint64(valid[offMagic:], magic)
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
		if h.size != fileSize || h.size < headerSize || h.allocNext < headerSize ||
			h.allocNext > uint64(h.size) || h.allocNext%Align != 0 || h.version > LayoutVersion || h.id == 0 {
			t.Fatalf("accepted an unsafe header: %+v for a %d-byte file", h, fileSize)
		}
	})
}
