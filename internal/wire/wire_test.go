package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/forkless-go/forkless/internal/errs"
)

func TestEncodeRawAndCodec(t *testing.T) {
	type pt struct{ X, Y int32 }
	b, err := Encode(Gob, pt{1, 2}, "argument")
	if err != nil || len(b) != 8 {
		t.Fatalf("raw: %v, %d bytes", err, len(b))
	}
	var p pt
	if err := Decode(Gob, b, &p); err != nil || p != (pt{1, 2}) {
		t.Fatalf("decode raw: %v %v", err, p)
	}
	if err := Decode(Gob, b[:7], &p); err == nil {
		t.Fatal("decoded 7 bytes into 8")
	}
	for _, c := range []Codec{Gob, JSON} {
		b, err := Encode(c, []string{"a", "b"}, "result")
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		if err := Decode(c, b, &s); err != nil || len(s) != 2 || s[1] != "b" {
			t.Fatalf("%T: %v %v", c, err, s)
		}
	}
}

func TestEncodeRefusesWithPath(t *testing.T) {
	type bad struct {
		Name string
		Jobs chan int
	}
	_, err := Encode(Gob, bad{}, "argument")
	if !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), "argument.Jobs (chan int)") {
		t.Fatalf("got %v", err)
	}
	if p := Unencodable(reflect.TypeFor[map[string][]func()](), "x"); p != "x[value][] (func())" {
		t.Fatalf("path %q", p)
	}
}

func TestValue(t *testing.T) {
	malformed := errors.New("malformed")
	ic := For[int64](Gob)
	x := int64(-12345)
	b, err := ic.AppendField(nil, &x)
	if err != nil || len(b) != 9 || !ic.Raw() {
		t.Fatalf("raw int64: %v, %d bytes", err, len(b))
	}
	var y int64
	if err := ic.Decode(b[1:], &y, malformed); err != nil || y != x {
		t.Fatalf("decode: %v, %d", err, y)
	}
	if err := ic.Decode(b[2:], &y, malformed); !errors.Is(err, malformed) {
		t.Fatalf("decoded 7 bytes into an int64: %v", err)
	}
	sc := For[[]string](Gob)
	v := []string{"a", "b"}
	b, err = sc.AppendField(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(b, malformed)
	var w []string
	if err := sc.Decode(r.Bytes(), &w, malformed); err != nil || len(w) != 2 || w[1] != "b" || r.Len() != 0 {
		t.Fatalf("gob: %v, %v", err, w)
	}
}

var errLocal = errors.New("wire test sentinel")

func TestErrorBodyRoundTrip(t *testing.T) {
	errs.Register(errLocal)
	err := fmt.Errorf("op: %w", errors.Join(errLocal, io.EOF))
	b := BodyOf(err)
	enc := AppendErrorBody([]byte{7}, b)
	r := NewReader(enc[1:], errors.New("malformed"))
	got := r.ErrorBody()
	if r.Err() != nil || got.Message != err.Error() || got.Type != "*fmt.wrapError" || len(got.Keys) != 2 {
		t.Fatalf("round trip: %+v, %v", got, r.Err())
	}
	sent := got.Sentinels()
	if len(sent) != 2 || sent[0] != errLocal || sent[1] != io.EOF {
		t.Fatalf("sentinels %v", sent)
	}
	p := PanicBody(io.ErrUnexpectedEOF, []byte("stack"))
	if !p.Panicked || p.Stack != "stack" || len(p.Keys) != 1 {
		t.Fatalf("panic body %+v", p)
	}
}

// FuzzReader feeds garbage to the error body reader: it must fail cleanly,
// never panic, and never write to its input.
func FuzzReader(f *testing.F) {
	f.Add(AppendErrorBody(nil, ErrorBody{Message: "m", Type: "t", Keys: []string{"k"}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		r := NewReader(b, errors.New("malformed"))
		r.ErrorBody()
		r.Byte()
		if !bytes.Equal(b, orig) {
			t.Fatal("the reader wrote to its input")
		}
	})
}

func TestUnencodablePath(t *testing.T) {
	type inner struct{ F func() }
	type outer struct {
		A      int
		hidden chan int
		M      map[string][]*inner
	}
	if got := Unencodable(reflect.TypeFor[outer](), "argument"); got != "argument.M[value][].F (func())" {
		t.Fatalf("path = %q", got)
	}
	if got := Unencodable(reflect.TypeFor[map[string]int](), "argument"); got != "" {
		t.Fatalf("path = %q", got)
	}
}

func TestDescriptorsOnlyAtTop(t *testing.T) {
	type inner struct{ F *os.File }
	type outer struct {
		In   inner
		Conn net.Conn
	}
	if got := Unencodable(reflect.TypeFor[outer](), "argument"); !strings.HasPrefix(got, "argument.In.F (*os.File: a descriptor") {
		t.Fatalf("path = %q", got)
	}
	// At the top, or as a field of the argument, they travel.
	b, files, owned, err := EncodeArg(Gob, struct {
		F    *os.File
		Name string
	}{os.Stdin, "x"})
	if err != nil || len(files) != 1 || files[0] != os.Stdin || len(owned) != 0 || b[0] != 1 {
		t.Fatalf("EncodeArg: %v, %v, %v", err, files, owned)
	}
	SetInherited(files)
	var got struct {
		F    *os.File
		Name string
	}
	if err := DecodeArg(Gob, b, &got); err != nil || got.F != os.Stdin || got.Name != "x" {
		t.Fatalf("DecodeArg: %v, %+v", err, got)
	}
	if _, _, _, err := EncodeArg(Gob, struct{ In inner }{}); !errors.Is(err, ErrEncode) {
		t.Fatalf("nested file: %v", err)
	}
}
