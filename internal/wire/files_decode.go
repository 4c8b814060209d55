package wire

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"sync"
)

// inherited holds the descriptors a spawned child received for its
// argument, in order: spawn sets them before the argument is decoded.
var inherited struct {
	sync.Mutex
	files []*os.File
	next  int
}

// SetInherited gives DecodeArg the descriptors the child inherited.
func SetInherited(files []*os.File) {
	inherited.Lock()
	defer inherited.Unlock()
	inherited.files, inherited.next = files, 0
}

func nextInherited() (*os.File, error) {
	inherited.Lock()
	defer inherited.Unlock()
	if inherited.next >= len(inherited.files) {
		return nil, fmt.Errorf("argument names descriptor %d, %d inherited", inherited.next, len(inherited.files))
	}
	f := inherited.files[inherited.next]
	inherited.next++
	return f, nil
}

// DecodeArg fills *v from what EncodeArg made, taking the descriptors in
// order from those SetInherited gave.
func DecodeArg[T any](c Codec, b []byte, v *T) error {
	p := planOf(reflect.TypeFor[T]())
	if p == nil {
		return Decode(c, b, v)
	}
	rv := reflect.ValueOf(v).Elem()
	n := len(p.fields)
	if p.self != fdNone {
		n = 1
	}
	if len(b) < n {
		return fmt.Errorf("argument of %d bytes, want at least %d", len(b), n)
	}
	if p.self != fdNone {
		return place(rv, p.self, b[0])
	}
	for k, i := range p.fields {
		if err := place(rv.Field(i), kindOf(rv.Type().Field(i).Type), b[k]); err != nil {
			return err
		}
	}
	rest := reflect.New(p.rest)
	if err := c.Decode(b[n:], rest.Interface()); err != nil {
		return err
	}
	for j, i := range p.keep {
		rv.Field(i).Set(rest.Elem().Field(j))
	}
	return nil
}

// place sets dst to the next inherited descriptor, as a file, connection
// or listener of dst's type.
func place(dst reflect.Value, k fdKind, present byte) error {
	if present == 0 {
		return nil
	}
	f, err := nextInherited()
	if err != nil {
		return err
	}
	var x any
	switch k {
	case fdFile:
		x = f
	case fdConn:
		x, err = net.FileConn(f) // a duplicate: f is closed below
		f.Close()
	case fdListener:
		x, err = net.FileListener(f)
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("argument: inherited descriptor: %w", err)
	}
	xv := reflect.ValueOf(x)
	if !xv.Type().AssignableTo(dst.Type()) {
		return fmt.Errorf("argument: inherited a %v, want a %v", xv.Type(), dst.Type())
	}
	dst.Set(xv)
	return nil
}
