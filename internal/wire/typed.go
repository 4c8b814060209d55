package wire

import (
	"errors"
	"reflect"
	"strings"
	"sync"
)

// Error types registered with RegisterErrorType travel with their fields:
// an error body carries, beside the sentinel keys, one key per registered
// type found in the error's tree (errors.As), "value:NAME=" and the
// value's gob encoding; the receiving process decodes it into the same
// type, so errors.As holds there with the fields.

const typedPrefix = "value:"

// maxTyped bounds the typed values one error carries.
const maxTyped = 8

var typed struct {
	sync.RWMutex
	byName map[string]reflect.Type
	order  []reflect.Type
}

func typeName(t reflect.Type) string {
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	return base.PkgPath() + "." + t.String()
}

// RegisterErrorType makes error values of type t travel with their fields.
// Registering a type twice is harmless.
func RegisterErrorType(t reflect.Type) {
	typed.Lock()
	defer typed.Unlock()
	if typed.byName == nil {
		typed.byName = make(map[string]reflect.Type)
	}
	name := typeName(t)
	if _, ok := typed.byName[name]; ok {
		return
	}
	typed.byName[name] = t
	typed.order = append(typed.order, t)
}

// TypedKeys returns the keys of the registered error values in err's tree.
// A value gob cannot encode is left out (its text still travels).
func TypedKeys(err error) []string {
	typed.RLock()
	defer typed.RUnlock()
	var keys []string
	for _, t := range typed.order {
		target := reflect.New(t)
		if !errors.As(err, target.Interface()) {
			continue
		}
		b, encErr := Gob.Encode(target.Interface())
		if encErr != nil {
			continue
		}
		keys = append(keys, typedPrefix+typeName(t)+"="+string(b))
		if len(keys) == maxTyped {
			break
		}
	}
	return keys
}

// RebuildTyped decodes the typed values among keys that this process
// knows.
func RebuildTyped(keys []string) []error {
	var out []error
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, typedPrefix)
		if !ok {
			continue
		}
		name, data, ok := strings.Cut(rest, "=")
		if !ok {
			continue
		}
		typed.RLock()
		t := typed.byName[name]
		typed.RUnlock()
		if t == nil {
			continue
		}
		v := reflect.New(t)
		if Gob.Decode([]byte(data), v.Interface()) != nil {
			continue
		}
		if e, ok := v.Elem().Interface().(error); ok && e != nil {
			out = append(out, e)
		}
	}
	return out
}
