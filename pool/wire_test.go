package pool

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/forkless-go/forkless/internal/wire"
)

func TestChunkSizePythonRule(t *testing.T) {
	// Python: chunksize, extra = divmod(len, workers * 4); if extra: chunksize += 1
	for _, c := range []struct{ n, workers, want int }{
		{0, 2, 1}, {1, 2, 1}, {8, 2, 1}, {9, 2, 2}, {1_000_000, 2, 125_000}, {1_000_001, 2, 125_001},
		{100, 3, 9}, {10, 0, 3}, {7, 1, 2},
	} {
		if got := ChunkSize(c.n, c.workers); got != c.want {
			t.Errorf("ChunkSize(%d, %d) = %d, want %d", c.n, c.workers, got, c.want)
		}
	}
}

func TestResultRecordsRoundTrip(t *testing.T) {
	var b []byte
	b = appendOK(b, []byte("hello"))
	b = appendFailed(b, wire.ErrorBody{Message: "boom", Type: "string", Stack: "goroutine 1",
		Keys: []string{"k1", "k2"}, Panicked: true})
	b = append(b, itemSkipped)
	b = appendOK(b, nil)
	var got []itemResult
	if err := parseResults(b, 4, func(i int, it itemResult) { got = append(got, it) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || string(got[0].value) != "hello" || got[1].status != itemPanic ||
		got[1].err.Message != "boom" || got[1].err.Stack != "goroutine 1" || len(got[1].err.Keys) != 2 ||
		got[2].status != itemSkipped || got[3].status != itemOK || len(got[3].value) != 0 {
		t.Fatalf("round trip: %+v", got)
	}
	// One record more than there is fails cleanly.
	if err := parseResults(b, 5, func(int, itemResult) {}); err == nil {
		t.Fatal("parsed a fifth record out of four")
	}
}

// FuzzParseResults feeds corrupt result payloads (they come from another
// process's memory) to the parser: it must fail cleanly, never panic or
// read outside the bytes.
func FuzzParseResults(f *testing.F) {
	var good []byte
	good = appendOK(good, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	good = appendFailed(good, wire.ErrorBody{Message: "msg", Type: "*errors.errorString", Keys: []string{"k"}})
	f.Add(good, 2)
	f.Add(good[:len(good)-1], 2)
	f.Add([]byte{itemOK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1)
	f.Add([]byte{itemError, 1, 'a', 1, 'b', 1, 'c', 0xff, 0x7f}, 1)
	f.Add([]byte{9}, 1)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		orig := bytes.Clone(b)
		count := 0
		err := parseResults(b, n, func(i int, it itemResult) {
			if i != count {
				t.Fatalf("record %d delivered as %d", count, i)
			}
			count++
			for _, s := range []string{string(it.value), it.err.Message, it.err.Type, it.err.Stack} {
				if len(s) > len(b) {
					t.Fatal("a field longer than the payload")
				}
			}
		})
		if err == nil && count != n {
			t.Fatalf("no error but %d of %d records", count, n)
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("the parser wrote to the payload")
		}
	})
}

func TestFixLength(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 300, 16383, 16384, 1 << 20} {
		val := bytes.Repeat([]byte{0xab}, n)
		out := append([]byte{9, itemOK, 0}, val...)
		out = fixLength(out, 2)
		want := appendOK([]byte{9}, val)
		if !bytes.Equal(out, want) {
			t.Fatalf("n=%d: fixLength differs from appendOK", n)
		}
	}
}

// FuzzTakeItems feeds corrupt result payloads to the whole-task decoder of
// fixed-size results (batch.go): it must stop at anything that is not a
// well-formed itemOK record of the right size, never panic or read past the
// bytes, and leave the rest to parseResults exactly where it stopped.
func FuzzTakeItems(f *testing.F) {
	var good []byte
	for i := range 3 {
		good = appendOK(good, binary.NativeEndian.AppendUint64(nil, uint64(i*i)))
	}
	f.Add(good, 3)
	f.Add(good[:len(good)-1], 3)
	f.Add(append(bytes.Clone(good[:10]), itemError, 1, 'x'), 3)
	f.Add([]byte{itemOK, 7, 1, 2, 3, 4, 5, 6, 7}, 1)
	f.Add([]byte{}, 2)
	vc := wire.For[int](nil)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		orig := bytes.Clone(b)
		out := make([]int, n)
		k, rest := takeItems(b, vc, out)
		if k < 0 || k > n || len(rest) != len(b)-10*k {
			t.Fatalf("took %d of %d with %d of %d bytes left", k, n, len(rest), len(b))
		}
		for i := range k {
			if out[i] != int(binary.NativeEndian.Uint64(b[10*i+2:])) {
				t.Fatalf("item %d = %d", i, out[i])
			}
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("the decoder wrote to the payload")
		}
	})
}
