package spawn

import (
	"encoding"
	"fmt"
	"reflect"
	"sync"

	"github.com/forkless-go/forkless/shm"
)

// Shared objects travel in arguments. A queue, a pipe end, a lock, an
// event, a shm.Value or Array, a shared Dict or List... anywhere in a
// child's argument (a field, an element, behind a pointer or an interface)
// is encoded as its handle (its package's MarshalText) and bound again in
// the child (UnmarshalText), after the regions its handle names were
// shared: Start finds them by walking the argument, so the caller needs no
// Share for them, and a child passing the object on to a grandchild shares
// it the same way.

// traveler is a shared object: its handle's text travels, and Handle()
// names the regions to share (every shm.Handle inside what it returns).
type traveler interface {
	encoding.TextMarshaler
}

var handleType = reflect.TypeFor[shm.Handle]()

// argRegions walks arg and returns the regions of the shared objects in
// it, each once, after those of extra (the Share option's). An object
// whose region this process has not attached (closed, or never here) is
// refused with ErrEncode and the path to it.
func argRegions(arg any, extra []*shm.Region) ([]*shm.Region, error) {
	out := extra
	seen := make(map[uint64]bool)
	for _, r := range extra {
		if r != nil {
			seen[r.ID()] = true
		}
	}
	var err error
	w := walker{visited: make(map[uintptr]bool), found: func(path string, v reflect.Value) bool {
		for _, id := range handleRegions(v) {
			if seen[id] {
				continue
			}
			r, lerr := shm.Lookup(id)
			if lerr != nil {
				err = fmt.Errorf("argument%s (%v): its region is not open in this process: %v: %w",
					path, v.Type(), lerr, ErrEncode)
				return false
			}
			seen[id] = true
			out = append(out, r)
		}
		return true
	}}
	w.walk(reflect.ValueOf(&arg).Elem(), "", 0)
	return out, err
}

// handleRegions returns the region ids named by the object's Handle().
func handleRegions(v reflect.Value) []uint64 {
	m := v.MethodByName("Handle")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil
	}
	var ids []uint64
	var collect func(h reflect.Value, depth int)
	collect = func(h reflect.Value, depth int) {
		switch {
		case depth > 4:
		case h.Type() == handleType:
			if id := h.Interface().(shm.Handle).Region; id != 0 {
				ids = append(ids, id)
			}
		case h.Kind() == reflect.Struct:
			for i := range h.NumField() {
				if h.Type().Field(i).IsExported() {
					collect(h.Field(i), depth+1)
				}
			}
		}
	}
	collect(m.Call(nil)[0], 0)
	return ids
}

// walker visits the values of an argument that may hold shared objects.
type walker struct {
	visited map[uintptr]bool
	found   func(path string, v reflect.Value) bool // false stops the walk
	stopped bool
}

const maxWalkDepth = 32

func (w *walker) walk(v reflect.Value, path string, depth int) {
	if w.stopped || !v.IsValid() || depth > maxWalkDepth || !mayHold(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || w.visited[v.Pointer()] {
			return
		}
		w.visited[v.Pointer()] = true
		if _, ok := v.Interface().(traveler); ok && v.MethodByName("Handle").IsValid() {
			w.stopped = !w.found(path, v)
			return
		}
		w.walk(v.Elem(), path, depth+1)
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), path, depth+1)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				w.walk(v.Field(i), path+"."+f.Name, depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			w.walk(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key()), depth+1)
		}
	}
}

// mayHoldCache remembers, per type, whether a value of it can hold a
// pointer or an interface, so that plain data is not walked.
var mayHoldCache sync.Map // reflect.Type -> bool

func mayHold(t reflect.Type) bool {
	if v, ok := mayHoldCache.Load(t); ok {
		return v.(bool)
	}
	mayHoldCache.Store(t, true) // a recursive type refers back to itself: assume yes meanwhile
	var r bool
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		r = true
	case reflect.Slice, reflect.Array:
		r = mayHold(t.Elem())
	case reflect.Map:
		r = mayHold(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && mayHold(f.Type) {
				r = true
				break
			}
		}
	}
	mayHoldCache.Store(t, r)
	return r
}
