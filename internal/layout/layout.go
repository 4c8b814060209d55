package layout

import (
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
)

// ErrNotPointerFree is wrapped by every refusal of Check.
var ErrNotPointerFree = errors.New("type is not fixed-size and pointer-free")

// Info describes a type that passed Check.
type Info struct {
	Type  reflect.Type
	Size  uintptr
	Align uintptr
	// ID is a fingerprint of the type's name and shape. Two processes of the
	// same binary compute the same ID for the same type; a handle carries it
	// so that binding a Value[int64] as a Value[float64] is refused.
	ID uint64
}

var cache sync.Map // reflect.Type -> cached

type cached struct {
	info Info
	err  error
}

// Of checks T once and caches the answer.
func Of[T any]() (Info, error) {
	return Check(reflect.TypeFor[T]())
}

// Check reports whether t is fixed-size and pointer-free. The error names the
// offending field, as in "field Inner.Name is a string".
func Check(t reflect.Type) (Info, error) {
	if c, ok := cache.Load(t); ok {
		c := c.(cached)
		return c.info, c.err
	}
	info := Info{Type: t, Size: t.Size(), Align: uintptr(t.Align()), ID: fingerprint(t)}
	err := walk(t, "")
	if err != nil {
		err = fmt.Errorf("%v: %s: %w", t, err.Error(), ErrNotPointerFree)
		info = Info{}
	}
	cache.Store(t, cached{info, err})
	return info, err
}

type fieldError struct {
	path string
	kind string
}

func (e *fieldError) Error() string {
	if e.path == "" {
		return "it is " + e.kind
	}
	return "field " + e.path + " is " + e.kind
}

func walk(t reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		return walk(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if err := walk(f.Type, p); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer, reflect.UnsafePointer:
		return &fieldError{path, "a pointer"}
	case reflect.String:
		return &fieldError{path, "a string"}
	case reflect.Slice:
		return &fieldError{path, "a slice"}
	case reflect.Map:
		return &fieldError{path, "a map"}
	case reflect.Interface:
		return &fieldError{path, "an interface"}
	case reflect.Chan:
		return &fieldError{path, "a channel"}
	case reflect.Func:
		return &fieldError{path, "a func"}
	}
	return &fieldError{path, "of unsupported kind " + t.Kind().String()}
}

// fingerprint hashes the type's printed form, size and field offsets. It is
// not a security measure: it catches mistakes, such as binding a handle with
// the wrong element type.
func fingerprint(t reflect.Type) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%v/%d/%d", t, t.Size(), t.Align())
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			fmt.Fprintf(h, "/%s@%d", f.Name, f.Offset)
		}
	}
	return h.Sum64()
}
