package shared

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

// Reading heap bytes another process may be rewriting at the same moment,
// for Dict.Get's optimistic read: every byte comes out of an aligned 8-byte
// atomic load of the heap's words (c.words), each word loaded once, never a
// plain load, so that the loads are ordered before the reader's closing
// load of the change sequence (the argument is at Dict.tryGet). On amd64 an
// atomic load is a plain MOV; the cost is the shifting around it.

// bigEndian: the heap's words, loaded as numbers, hold their bytes high
// byte first (no platform forkless supports; the shifts below want low
// byte first).
var bigEndian = binary.NativeEndian.Uint16([]byte{1, 0}) != 1

// word loads heap word i (an atomic load) with its first byte lowest.
func (c *container) word(i int64) uint64 {
	x := c.words[i].Load()
	if bigEndian {
		x = bits.ReverseBytes64(x)
	}
	return x
}

// wordRange returns the indexes of the first and last heap words holding
// the n > 0 bytes at heap offset off, or false if they leave the heap.
func (c *container) wordRange(off, n int64) (first, last int64, ok bool) {
	if off < 0 || n <= 0 || n > int64(len(c.mem))-off {
		return 0, 0, false
	}
	first, last = off/8, (off+n-1)/8
	return first, last, last < int64(len(c.words))
}

// chunk returns the 8 bytes at bit shift sh (0, 8, ... 56) of heap word
// i, low byte first, continuing into word i+1 when sh > 0 and i < last.
// Callers walk i up by one per chunk: words i+1 are loaded twice, which
// costs less than carrying them (the compiler keeps a carried word on the
// stack).
func (c *container) chunk(i, last int64, sh uint) uint64 {
	v := c.word(i) >> sh
	if sh != 0 && i < last {
		v |= c.word(i+1) << (64 - sh)
	}
	return v
}

// loadBytes fills dst with the len(dst) bytes at heap offset off; false if
// they leave the heap.
func (c *container) loadBytes(dst []byte, off int64) bool {
	if len(dst) == 0 {
		return off >= 0 && off <= int64(len(c.mem))
	}
	i, last, ok := c.wordRange(off, int64(len(dst)))
	if !ok {
		return false
	}
	sh := uint(off%8) * 8
	j := 0
	for ; len(dst)-j >= 8; i, j = i+1, j+8 {
		binary.LittleEndian.PutUint64(dst[j:], c.chunk(i, last, sh))
	}
	if j < len(dst) {
		for v := c.chunk(i, last, sh); j < len(dst); j, v = j+1, v>>8 {
			dst[j] = byte(v)
		}
	}
	return true
}

// equalBytes reports whether the len(b) bytes at heap offset off equal b;
// false if they leave the heap.
func (c *container) equalBytes(off int64, b []byte) bool {
	if len(b) == 0 {
		return off >= 0 && off <= int64(len(c.mem))
	}
	i, last, ok := c.wordRange(off, int64(len(b)))
	if !ok {
		return false
	}
	sh := uint(off%8) * 8
	j := 0
	for ; len(b)-j >= 8; i, j = i+1, j+8 {
		if c.chunk(i, last, sh) != binary.LittleEndian.Uint64(b[j:]) {
			return false
		}
	}
	if j < len(b) {
		for v := c.chunk(i, last, sh); j < len(b); j, v = j+1, v>>8 {
			if byte(v) != b[j] {
				return false
			}
		}
	}
	return true
}

// loadString appends the n bytes at heap offset off to sb, which the
// caller has grown by n (so a Get of a string allocates once: the string
// itself), through a buffer on the stack; false if they leave the heap.
func (c *container) loadString(sb *strings.Builder, off, n int64) bool {
	var buf [128]byte
	for n > 0 {
		k := min(n, int64(len(buf)))
		if !c.loadBytes(buf[:k], off) {
			return false
		}
		sb.Write(buf[:k])
		off, n = off+k, n-k
	}
	return true
}
