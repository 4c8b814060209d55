package spawn

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/forkless-go/forkless/internal/wire"
)

func TestProtocolRoundTrip(t *testing.T) {
	q := request{fn: "pkg.f", arg: []byte{1, 2, 3}, nRegions: 2, name: "Process-1:2", identity: "1:2",
		parentName: "Process-1", parentPid: 42, parentStart: 12345, flags: flagDaemon,
		termGrace: 250 * time.Millisecond}
	got, err := readRequest(bufio.NewReader(bytes.NewReader(q.marshal())))
	if err != nil || !reflect.DeepEqual(got, q) {
		t.Fatalf("request round trip: %+v, %v", got, err)
	}
	for _, p := range []response{
		{status: statusOK, result: []byte("xyz")},
		{status: statusPanic, err: wire.ErrorBody{Message: "boom", Type: "string", Stack: "goroutine 1",
			Keys: []string{"a", "b"}, Panicked: true}},
		{status: statusNotRegistered, err: wire.ErrorBody{Message: "no"}},
	} {
		got, err := readResponse(bufio.NewReader(bytes.NewReader(p.marshal())))
		if err != nil || got.status != p.status || string(got.result) != string(p.result) ||
			!reflect.DeepEqual(got.err, p.err) {
			t.Fatalf("response round trip: %+v, %v; want %+v", got, err, p)
		}
	}
}

func TestProtocolRejects(t *testing.T) {
	good := request{fn: "f"}.marshal()
	bad := append([]byte{}, good...)
	bad[4] = 9 // version
	if _, err := readRequest(bufio.NewReader(bytes.NewReader(bad))); !errors.Is(err, errFrame) {
		t.Fatalf("newer version: %v", err)
	}
	huge := append([]byte("FLSQ\x02"), 0xff, 0xff, 0xff, 0xff, 0x0f) // a 4 GiB name
	if _, err := readRequest(bufio.NewReader(bytes.NewReader(huge))); !errors.Is(err, errFrame) {
		t.Fatalf("huge field: %v", err)
	}
	if _, err := readResponse(bufio.NewReader(bytes.NewReader([]byte("FLSR\x09")))); !errors.Is(err, errFrame) {
		t.Fatalf("unknown status: %v", err)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add(request{fn: "pkg.f", arg: []byte("a"), nRegions: 1, name: "n", parentPid: 1}.marshal())
	f.Add([]byte("FLSQ\x02\x00"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := readRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip unchanged.
		q2, err := readRequest(bufio.NewReader(bytes.NewReader(q.marshal())))
		if err != nil || !reflect.DeepEqual(q, q2) {
			t.Fatalf("round trip of %+v: %+v, %v", q, q2, err)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add(response{status: statusOK, result: []byte("r")}.marshal())
	f.Add(response{status: statusError, err: wire.ErrorBody{Message: "m", Keys: []string{"k"}}}.marshal())
	f.Add([]byte("FLSR\x02\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := readResponse(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		p2, err := readResponse(bufio.NewReader(bytes.NewReader(p.marshal())))
		if err != nil || p2.status != p.status || !reflect.DeepEqual(p2.err, p.err) {
			t.Fatalf("round trip of %+v: %+v, %v", p, p2, err)
		}
	})
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := newLineWriter(&out, "[x] ", true)
	w.Write([]byte("ab"))
	w.Write([]byte("c\nd\n\ne"))
	w.flush()
	w.flush()
	if got := out.String(); got != "[x] abc\n[x] d\n[x] \n[x] e\n" {
		t.Fatalf("got %q", got)
	}
}
