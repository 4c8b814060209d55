//go:build linux

package faults_test

import (
	"encoding/binary"
	"hash/fnv"
)

// An item is (producer, sequence, checksum) and a payload derived from the
// first two: a torn or mixed item fails its checksum.
const itemHeader = 24

// item is the fixed-size form, for slot rings.
type item struct{ Prod, Seq, Sum uint64 }

func sum(prod, seq uint64, payload []byte) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], prod)
	binary.LittleEndian.PutUint64(b[8:], seq)
	h.Write(b[:])
	h.Write(payload)
	return h.Sum64()
}

func fixedItem(prod, seq uint64) item { return item{prod, seq, sum(prod, seq, nil)} }

func (it item) ok() bool { return it.Sum == sum(it.Prod, it.Seq, nil) }

// makeItem builds a message of size bytes (at least itemHeader).
func makeItem(prod, seq uint64, size int) []byte {
	b := make([]byte, max(size, itemHeader))
	binary.LittleEndian.PutUint64(b, prod)
	binary.LittleEndian.PutUint64(b[8:], seq)
	x := prod*0x9e3779b97f4a7c15 ^ seq
	for i := itemHeader; i < len(b); i++ {
		x = x*6364136223846793005 + 1442695040888963407
		b[i] = byte(x >> 56)
	}
	binary.LittleEndian.PutUint64(b[16:], sum(prod, seq, b[itemHeader:]))
	return b
}

// parseItem checks a message: ok is false for a torn or foreign one.
func parseItem(b []byte) (prod, seq uint64, ok bool) {
	if len(b) < itemHeader {
		return 0, 0, false
	}
	prod, seq = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
	return prod, seq, binary.LittleEndian.Uint64(b[16:]) == sum(prod, seq, b[itemHeader:])
}

// ledger counts what a bystander saw.
type ledger struct {
	seen map[[2]uint64]int
	torn int64
}

func newLedger() *ledger { return &ledger{seen: map[[2]uint64]int{}} }

func (l *ledger) add(prod, seq uint64, ok bool) {
	if !ok {
		l.torn++
		return
	}
	l.seen[[2]uint64{prod, seq}]++
}

// tally compares the ledger with acked[p], the number of items producer p
// had acknowledged: items acknowledged and not seen are lost, items seen
// more than once duplicated.
func (l *ledger) tally(acked []uint64) (items, lost, dup int64) {
	for k, n := range l.seen {
		items++
		if n > 1 {
			dup += int64(n - 1)
		}
		_ = k
	}
	for p, n := range acked {
		for s := range n {
			if l.seen[[2]uint64{uint64(p), s}] == 0 {
				lost++
			}
		}
	}
	return items, lost, dup
}
