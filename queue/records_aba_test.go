package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/forkless-go/forkless/shm"
)

// abaRing makes a 1 KiB record ring in a fresh region for the in-package
// tests of the take CAS.
func abaRing(t *testing.T) *records {
	t.Helper()
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	q, err := newRecords(r, MinBytes, 0, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func abaPut(t *testing.T, q *records, msg []byte) uint64 {
	t.Helper()
	p, err := q.tryClaim(len(msg), 0)
	if err != nil {
		t.Fatal(err)
	}
	copy(q.data[p&q.mask+recHdr:], msg)
	if err := q.commit(p, len(msg)); err != nil {
		t.Fatal(err)
	}
	return p
}

func abaGet(t *testing.T, q *records) (uint64, []byte) {
	t.Helper()
	p, w, err := q.tryTake()
	if err != nil {
		t.Fatal(err)
	}
	s, err := q.span(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.payload(p, s)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(b)
	q.release(p, w)
	return p, out
}

// staleLoad is a consumer's first half of tryTake: head h, the committed
// word at h, head re-checked. The test then laps the ring before the second
// half (takeCommitted), as a descheduled consumer would see it.
func staleLoad(t *testing.T, q *records) (uint64, uint64) {
	h := q.head.Load()
	w := q.state(h).Load()
	if q.head.Load() != h || w&recStateMask != recCommitted {
		t.Fatalf("head %d state %#x: want a committed record", h, w)
	}
	return h, w
}

// TestTakeStaleSameOffsetRecord stages the ABA schedule deterministically:
// a consumer loads the committed word of the record at head, is
// "descheduled" while another consumer takes it and the producer laps the
// ring, writing a new record at the same offset; then its CAS runs. With
// owner-only committed words (ring version 1) that CAS took the later
// record out of order; with position tags it must fail, and the record is
// delivered, once, in order.
func TestTakeStaleSameOffsetRecord(t *testing.T) {
	q := abaRing(t)
	msg := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 48) } // span 64: 16 records a lap
	abaPut(t, q, msg(0))
	h, w := staleLoad(t, q)
	// Another consumer takes record 0; the producer writes 16 more, the
	// last at the same offset as record 0, one lap later.
	if _, m := abaGet(t, q); !bytes.Equal(m, msg(0)) {
		t.Fatalf("got %v", m)
	}
	var last uint64
	for i := 1; i <= 16; i++ {
		last = abaPut(t, q, msg(i))
	}
	if last != h+q.cap {
		t.Fatalf("record 16 at %d, want %d", last, h+q.cap)
	}
	st := q.state(h)
	if q.takeCommitted(st, h, w) {
		t.Fatalf("stale take CAS won the record one lap later (word %#x)", w)
	}
	if got := st.Load(); got != q.committedWord(last, 0) {
		t.Fatalf("record 16's state is %#x after the stale CAS, want committed %#x", got, q.committedWord(last, 0))
	}
	for i := 1; i <= 16; i++ {
		if _, m := abaGet(t, q); !bytes.Equal(m, msg(i)) {
			t.Fatalf("message %d: got %v", i, m[:4])
		}
	}
	if _, _, err := q.tryTake(); err != ErrEmpty {
		t.Fatalf("after the 17 messages: %v, want ErrEmpty", err)
	}
}

// TestTakeStalePayloadWord: the same schedule, but one lap later the offset
// of the stale record lies inside a payload that reproduces the stale
// consumer's committed word exactly (the worst case: the test copies it).
// The stale CAS may land on the payload; it must be detected and undone
// before anything is read, and the message carrying that payload must
// arrive intact.
func TestTakeStalePayloadWord(t *testing.T) {
	q := abaRing(t)
	abaPut(t, q, make([]byte, 48)) // record at 0, span 64
	abaPut(t, q, make([]byte, 48)) // record at 64: the stale consumer's
	abaGet(t, q)
	h, w := staleLoad(t, q)
	if h != 64 {
		t.Fatalf("head %d", h)
	}
	abaGet(t, q)
	// Lap: fill to the end of the data area (positions 128..1023), then
	// one record at 1024 whose payload starts at offset 16, so offset 64
	// (the stale record's) is payload byte 48.
	for range 2 {
		abaPut(t, q, make([]byte, 448-recHdr))
		abaGet(t, q)
	}
	forged := make([]byte, 200)
	for i := range forged {
		forged[i] = byte(i)
	}
	binary.NativeEndian.PutUint64(forged[64-recHdr:], w)
	if p := abaPut(t, q, forged); p != 1024 {
		t.Fatalf("forged record at %d", p)
	}
	if q.takeCommitted(q.state(h), h, w) {
		t.Fatal("stale take CAS on a payload was not detected")
	}
	if _, m := abaGet(t, q); !bytes.Equal(m, forged) {
		t.Fatalf("the message whose payload held the stale word arrived torn:\n got %x\nwant %x", m, forged)
	}
}

// TestCommittedWordTags: committed words of positions a lap (or a few)
// apart differ, and the tag is the one tryTake checks.
func TestCommittedWordTags(t *testing.T) {
	q := abaRing(t)
	seen := map[uint64]uint64{}
	for p := uint64(0); p < 64*q.cap; p += recAlign {
		w := q.committedWord(p, recFlagSpill)
		if w&recStateMask != recCommitted || w&recFlagSpill == 0 {
			t.Fatalf("word %#x at %d", w, p)
		}
		if o, ok := seen[w]; ok {
			t.Fatalf("positions %d and %d share committed word %#x", o, p, w)
		}
		seen[w] = p
	}
	// A genuine committed word with another position's tag at head is
	// corruption, reported, not taken.
	p := abaPut(t, q, []byte("x"))
	q.state(p).Store(q.committedWord(p+q.cap, 0))
	if _, _, err := q.tryTake(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("mistagged record: %v, want ErrCorrupt", err)
	}
}
