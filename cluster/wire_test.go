package cluster

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestChunkRoundTrip(t *testing.T) {
	c := &chunk{Job: 3, Task: 1 << 40, Func: "pkg.f", Codec: "gob", Deadline: time.Unix(0, 12345), Base: 2,
		Items: []item{{Index: 0, Data: []byte("a")}, {Index: 99, Data: nil}, {Index: 7, Data: bytes.Repeat([]byte{1}, 300)}}}
	got, err := parseChunk(appendChunk(nil, c))
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Items {
		if got.Items[i].Index != c.Items[i].Index || !bytes.Equal(got.Items[i].Data, c.Items[i].Data) {
			t.Fatalf("item %d: %+v", i, got.Items[i])
		}
	}
	got.Items, c.Items = nil, nil
	if !reflect.DeepEqual(got, c) || !got.Deadline.Equal(c.Deadline) {
		t.Fatalf("%+v != %+v", got, c)
	}
	b := appendChunk(nil, &chunk{Func: "f"})
	b[0] = WireVersion + 1
	if _, err := parseChunk(b); !errors.Is(err, ErrWireVersion) {
		t.Fatalf("another version: %v", err)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	rs := &results{Task: 9, Node: "host/1", Items: []item{{Index: 4, Status: statusOK, Data: []byte("r")}, {Index: 5, Status: statusFailed, Data: []byte("{}")}}}
	got, err := parseResults(appendResults(nil, rs))
	if err != nil || !reflect.DeepEqual(got, rs) {
		t.Fatalf("%+v, %v", got, err)
	}
}

// FuzzParseChunk: a chunk's bytes come from the network. The decoder never
// panics, never allocates beyond what the input can hold, and what it
// accepts encodes back to the same bytes.
func FuzzParseChunk(f *testing.F) {
	f.Add(appendChunk(nil, &chunk{Job: 1, Task: 2, Func: "pkg.f", Codec: "gob", Items: []item{{Index: 1, Data: []byte("xy")}}}))
	f.Add(appendChunk(nil, &chunk{Func: "f", Deadline: time.Unix(5, 0), Base: 3}))
	f.Add([]byte{WireVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	// A chunk cut short by one byte: a length read before its own varint
	// was counted let this panic a node (found by TestRejects/malformed).
	whole := appendChunk(nil, &chunk{Func: "pkg.f", Items: []item{{Index: 1, Data: []byte("argument")}}})
	f.Add(whole[:len(whole)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseChunk(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWireVersion) {
				t.Fatalf("error %v is neither malformed nor another version", err)
			}
			return
		}
		if len(c.Items) > len(b) {
			t.Fatalf("%d items from %d bytes", len(c.Items), len(b))
		}
		if again := appendChunk(nil, c); !bytes.Equal(again, b) {
			// Varints have one canonical form on the way out; accept a
			// non-canonical input only if it decodes to the same chunk.
			c2, err := parseChunk(again)
			if err != nil || len(c2.Items) != len(c.Items) || c2.Func != c.Func || c2.Task != c.Task {
				t.Fatalf("re-encoding differs: %v", err)
			}
		}
	})
}

// FuzzParseResults: results come from nodes over the network.
func FuzzParseResults(f *testing.F) {
	f.Add(appendResults(nil, &results{Task: 1, Node: "n", Items: []item{{Index: 3, Status: statusFailed, Data: []byte(`{"m":"x"}`)}}}))
	f.Add([]byte{WireVersion, 1, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := parseResults(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWireVersion) {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, it := range rs.Items {
			if it.Status == statusFailed {
				nodeError(rs.Node, "", "f", it.Data) // never panics either
			}
		}
	})
}
