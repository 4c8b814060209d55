package wire

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"sync"
)

// Files, connections and listeners travel in a spawn argument as
// descriptors: the argument itself, or exported fields of a struct
// argument, of type *os.File, net.Conn, net.Listener or a concrete
// connection or listener of package net (*net.TCPConn, *net.UnixListener,
// ...). EncodeArg takes them out of the value (the rest goes through the
// codec) and returns the files to pass; DecodeArg puts the descriptors the
// child inherited back, typed.

type fdKind int

const (
	fdNone fdKind = iota
	fdFile
	fdConn
	fdListener
)

var (
	fileType     = reflect.TypeFor[*os.File]()
	connType     = reflect.TypeFor[net.Conn]()
	listenerType = reflect.TypeFor[net.Listener]()
	filerType    = reflect.TypeFor[interface{ File() (*os.File, error) }]()
)

func kindOf(t reflect.Type) fdKind {
	concrete := t.Kind() == reflect.Interface || t.Implements(filerType)
	switch {
	case t == fileType:
		return fdFile
	case t.Implements(connType) && concrete:
		return fdConn
	case t.Implements(listenerType) && concrete:
		return fdListener
	}
	return fdNone
}

// plan is how a type's descriptors travel: the whole value (self), or the
// struct fields at fields, the rest of the struct as rest (a struct type
// of the other exported fields).
type plan struct {
	self   fdKind
	fields []int // indices of descriptor fields
	keep   []int // indices of the other exported fields, in rest's order
	rest   reflect.Type
}

var plans sync.Map // reflect.Type -> *plan (nil: no descriptors)

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	var p *plan
	if k := kindOf(t); k != fdNone {
		p = &plan{self: k}
	} else if t.Kind() == reflect.Struct {
		var fields, keep []int
		var rest []reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			switch {
			case !f.IsExported():
			case kindOf(f.Type) != fdNone:
				fields = append(fields, i)
			default:
				keep = append(keep, i)
				rest = append(rest, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
			}
		}
		if len(fields) > 0 {
			p = &plan{fields: fields, keep: keep, rest: reflect.StructOf(rest)}
		}
	}
	plans.Store(t, p)
	return p
}

// HasFiles reports whether values of T carry descriptors.
func HasFiles[T any]() bool { return planOf(reflect.TypeFor[T]()) != nil }

// EncodeArg is Encode for a spawn argument that may carry descriptors. The
// files it returns go to the child in that order; those in owned were
// made for the child (a connection's or listener's File) and the caller
// closes them once the child has started.
func EncodeArg[T any](c Codec, v T) (b []byte, files, owned []*os.File, err error) {
	p := planOf(reflect.TypeFor[T]())
	if p == nil {
		b, err = Encode(c, v, "argument")
		return b, nil, nil, err
	}
	rv := reflect.ValueOf(&v).Elem()
	take := func(x reflect.Value, path string) (byte, error) {
		if (x.Kind() == reflect.Pointer || x.Kind() == reflect.Interface) && x.IsNil() {
			return 0, nil
		}
		if f, ok := x.Interface().(*os.File); ok {
			files = append(files, f)
			return 1, nil
		}
		filer, ok := x.Interface().(interface{ File() (*os.File, error) })
		if !ok {
			return 0, fmt.Errorf("%s (%v): no descriptor to pass: %w", path, x.Type(), ErrEncode)
		}
		f, err := filer.File()
		if err != nil {
			return 0, fmt.Errorf("%s (%v): %v: %w", path, x.Type(), err, ErrEncode)
		}
		files, owned = append(files, f), append(owned, f)
		return 1, nil
	}
	fail := func(err error) ([]byte, []*os.File, []*os.File, error) {
		for _, f := range owned {
			f.Close()
		}
		return nil, nil, nil, err
	}
	if p.self != fdNone {
		present, err := take(rv, "argument")
		if err != nil {
			return fail(err)
		}
		return []byte{present}, files, owned, nil
	}
	for _, i := range p.fields {
		present, err := take(rv.Field(i), "argument."+rv.Type().Field(i).Name)
		if err != nil {
			return fail(err)
		}
		b = append(b, present)
	}
	rest := reflect.New(p.rest).Elem()
	for j, i := range p.keep {
		rest.Field(j).Set(rv.Field(i))
	}
	if path := Unencodable(p.rest, "argument"); path != "" {
		return fail(fmt.Errorf("argument of type %T: %s cannot travel to another process: %w", v, path, ErrEncode))
	}
	enc, err := c.Encode(rest.Addr().Interface())
	if err != nil {
		return fail(fmt.Errorf("argument of type %T: %v: %w", v, err, ErrEncode))
	}
	return append(b, enc...), files, owned, nil
}
