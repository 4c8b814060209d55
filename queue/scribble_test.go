package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/forkless-go/forkless/shm"
)

// Another process can write any bytes into a queue's block. These tests
// (and FuzzQueueScribble) write into a live queue's header, cursors,
// record headers and state words between operations, and require every
// call to return, with data or an error, within a bound: never a panic,
// never a hang.

// The queues scribbled: 1 KiB rings, inline only or with a spill area.
var (
	inlineOnly = Config{Bytes: MinBytes, MaxMessage: -1}
	withArea   = Config{Bytes: MinBytes, Spill: 16 << 10, MaxMessage: 2 << 10}
)

const (
	scribbleCallDeadline = 10 * time.Millisecond
	scribbleHang         = time.Second
)

// scribbleQueue is a 1 KiB inline-only queue in a fresh region, and its
// block's bytes. The region is closed at cleanup only if *closeOK stays
// true (a hung call keeps it mapped).
func scribbleQueue(t testing.TB, c Config) (*Queue, []byte, *bool) {
	t.Helper()
	r, err := shm.New(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	ok := true
	t.Cleanup(func() {
		if ok {
			r.Close()
		}
	})
	q, err := New(r, c)
	if err != nil {
		t.Fatal(err)
	}
	return q, q.q.b.Bytes(), &ok
}

// bounded runs op with a short deadline; it fails t if op does not return
// within scribbleHang, and reports whether it returned.
func bounded(t testing.TB, name string, op func(ctx context.Context) error) (error, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), scribbleCallDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err, true
	case <-time.After(scribbleHang):
		t.Errorf("%s: still running %v after its deadline", name, scribbleHang)
		return nil, false
	}
}

// wantCorruptOrCtx fails t unless err is nil, ErrCorrupt, or a context's
// error (or one of the ordinary answers, which a scribble can make true).
func acceptable(err error) bool {
	return err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrEmpty) || errors.Is(err, ErrFull) || errors.Is(err, ErrClosed) || errors.Is(err, ErrTooLarge)
}

func TestQueueUnalignedCursorsAreCorrupt(t *testing.T) {
	for _, c := range []struct {
		name string
		off  uintptr
	}{
		{"tail", unsafe.Offsetof(ringHeader{}.tail)},
		{"head", unsafe.Offsetof(ringHeader{}.head)},
		{"freed", unsafe.Offsetof(ringHeader{}.freed)},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, mem, closeOK := scribbleQueue(t, inlineOnly)
			ctx := context.Background()
			for range 3 {
				if err := q.Put(ctx, make([]byte, 100)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := q.Get(ctx); err != nil {
				t.Fatal(err)
			}
			w := binary.LittleEndian.Uint64(mem[c.off:])
			binary.LittleEndian.PutUint64(mem[c.off:], w+2)
			corrupt := false
			for i := range 8 {
				ops := map[string]func(ctx context.Context) error{
					"Put":    func(ctx context.Context) error { return q.Put(ctx, make([]byte, 200)) },
					"TryPut": func(context.Context) error { return q.TryPut(make([]byte, 300)) },
					"Get":    func(ctx context.Context) error { _, err := q.Get(ctx); return err },
					"TryGet": func(context.Context) error { _, err := q.TryGet(); return err },
				}
				for name, op := range ops {
					err, ok := bounded(t, name, op)
					*closeOK = *closeOK && ok
					if !ok {
						return
					}
					if !acceptable(err) {
						t.Errorf("%s %d: %v", name, i, err)
					}
					corrupt = corrupt || errors.Is(err, ErrCorrupt)
				}
			}
			if !corrupt {
				t.Errorf("no call reported the unaligned %s as ErrCorrupt", c.name)
			}
		})
	}
}

func TestQueueStateChangedUnderReaderIsCorrupt(t *testing.T) {
	q, _, _ := scribbleQueue(t, inlineOnly)
	ctx := context.Background()
	if err := q.Put(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	m, err := q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q.q.state(m.pos).Store(recFree) // another process's stray store
	if err := m.Release(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Release of a record whose state word changed: %v, want ErrCorrupt", err)
	}
	// Get copies and releases: the same scribble is its error.
	if err := q.Put(ctx, []byte("again")); err != nil {
		t.Fatal(err)
	}
	m, err = q.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q.q.state(m.pos).Store(0)
	if _, err := appendMessage(nil, m, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get's release of a changed record: %v, want ErrCorrupt", err)
	}
}

// FuzzQueueScribble interprets its input as a program of operations on a
// live queue: puts and gets (blocking with a 50 ms deadline, and
// non-blocking), takes held across other operations, and 8-byte stores of
// chosen values at chosen offsets of the queue's block (header words, the
// cursors, record headers and state words in the data area). Every call
// must return, with data or an error; nothing may panic or hang.
func FuzzQueueScribble(f *testing.F) {
	f.Add([]byte{0, 10, 0, 20, 2, 72, 2, 3, 1, 0})
	f.Add([]byte{0, 100, 3, 1, 8, 0, 0, 0, 0, 0, 0, 0, 9, 1, 1, 4})
	f.Add([]byte{0, 200, 0, 200, 0, 200, 3, 2, 128, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1})
	f.Add([]byte{5, 0, 3, 4, 0, 255, 255, 255, 255, 255, 255, 255, 255, 1, 6, 1})
	f.Add([]byte{0x80, 255, 0, 250, 5, 3, 7, 64, 0, 0, 0, 0, 0, 0, 0, 6, 1, 4})
	f.Add([]byte{0x80, 200, 3, 11, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 255, 1})
	f.Fuzz(func(t *testing.T, prog []byte) {
		// The first byte chooses an inline-only queue or one with a spill
		// area (whose block offsets the scribbles reach too).
		c := inlineOnly
		if len(prog) > 0 && prog[0]&0x80 != 0 {
			c = withArea
		}
		q, mem, closeOK := scribbleQueue(t, c)
		var held []Message
		defer func() {
			for _, m := range held {
				m.Release() //nolint:errcheck // may be corrupt; must not panic
			}
		}()
		next := func() byte {
			if len(prog) == 0 {
				return 0
			}
			b := prog[0]
			prog = prog[1:]
			return b
		}
		for steps := 0; len(prog) > 0 && steps < 32; steps++ {
			op := next() % 8
			var name string
			var call func(ctx context.Context) error
			switch op {
			case 0:
				n := int(next()) * 4
				name, call = "Put", func(ctx context.Context) error { return q.Put(ctx, make([]byte, n)) }
			case 1:
				name, call = "Get", func(ctx context.Context) error { _, err := q.Get(ctx); return err }
			case 2:
				n := int(next())
				name, call = "TryPut", func(context.Context) error { return q.TryPut(make([]byte, n)) }
			case 3:
				scribble(mem, next(), prog)
				if len(prog) >= 8 {
					prog = prog[8:]
				} else {
					prog = nil
				}
				continue
			case 4:
				name, call = "TryGet", func(context.Context) error { _, err := q.TryGet(); return err }
			case 5:
				name, call = "Take", func(ctx context.Context) error {
					m, err := q.Take(ctx)
					if err == nil {
						held = append(held, m)
					}
					return err
				}
			case 6:
				if len(held) == 0 {
					continue
				}
				m := held[0]
				held = held[1:]
				name, call = "Release", func(context.Context) error { return m.Release() }
			case 7:
				name, call = "Len", func(context.Context) error { q.Len(); return nil }
			}
			err, ok := bounded(t, name, call)
			if !ok {
				*closeOK = false
				return
			}
			if !acceptable(err) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

// scribble stores a word chosen by val (8 bytes; fewer are zero-padded) at
// a place chosen by where: the header's words, the cursors (set to the
// value, or nudged by it), or the data area (record headers and payloads).
func scribble(mem []byte, where byte, val []byte) {
	var b [8]byte
	copy(b[:], val)
	v := binary.LittleEndian.Uint64(b[:])
	cursors := []uintptr{
		unsafe.Offsetof(ringHeader{}.tail), unsafe.Offsetof(ringHeader{}.head), unsafe.Offsetof(ringHeader{}.freed),
		unsafe.Offsetof(ringHeader{}.puts), unsafe.Offsetof(ringHeader{}.gets), unsafe.Offsetof(ringHeader{}.lock),
	}
	var off int
	switch where % 4 {
	case 0: // any header word
		off = int(where/4) % (recDataOff / 8) * 8
	case 1: // a cursor, nudged by a small signed amount
		off = int(cursors[int(where/4)%len(cursors)])
		v = binary.LittleEndian.Uint64(mem[off:]) + uint64(int64(int8(b[0])))
	case 2: // a cursor, set
		off = int(cursors[int(where/4)%len(cursors)])
	case 3: // the data area: record headers, state words, payloads
		off = recDataOff + int(where/4)*8%(len(mem)-recDataOff)
	}
	off = min(off, len(mem)-8)
	binary.LittleEndian.PutUint64(mem[off:], v)
}
