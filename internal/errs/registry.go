package errs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// MaxKeys bounds how many keys one error carries across the boundary.
const MaxKeys = 16

// The sentinel registry. A key is the error's dynamic type and text.
var registry struct {
	sync.RWMutex
	byKey map[string]error
	keyOf map[error]string
}

// Register makes errs known across the process boundary. Only comparable
// error values can be registered (errors.New and Kind values are); others,
// and nil, are skipped, and so is a value registered before. Two distinct
// values with the same type and text both travel: the later one's key
// carries a "#N" suffix. Call it from init, before spawn.Main, so that
// every process of the binary registers in the same order.
func Register(errs ...error) {
	registry.Lock()
	defer registry.Unlock()
	if registry.byKey == nil {
		registry.byKey = make(map[string]error)
		registry.keyOf = make(map[error]string)
	}
	for _, e := range errs {
		if e == nil || !reflect.TypeOf(e).Comparable() {
			continue
		}
		if _, done := registry.keyOf[e]; done {
			continue
		}
		// A different value with the same type and text gets the next
		// free "#N" suffix. Init order is fixed for a binary, so every
		// process of it hands out the same suffixes.
		base := fmt.Sprintf("%T:%s", e, e.Error())
		k := base
		for n := 2; registry.byKey[k] != nil; n++ {
			k = base + "#" + strconv.Itoa(n)
		}
		registry.byKey[k] = e
		registry.keyOf[e] = k
	}
}

// Keys walks err's tree (Unwrap() error and Unwrap() []error) and names
// every registered sentinel and syscall.Errno in it, at most MaxKeys.
func Keys(err error) []string {
	var keys []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] && len(keys) < MaxKeys {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	registry.RLock()
	defer registry.RUnlock()
	var walk func(e error, depth int)
	walk = func(e error, depth int) {
		if e == nil || depth > 100 {
			return
		}
		if errno, ok := e.(syscall.Errno); ok {
			add("errno:" + strconv.FormatUint(uint64(errno), 10))
		} else if reflect.TypeOf(e).Comparable() {
			if k, ok := registry.keyOf[e]; ok {
				add(k)
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x, depth+1)
			}
		}
	}
	walk(err, 0)
	return keys
}

// Rebuild returns the errors named by keys; keys it does not know (from
// another build, or forged) are skipped.
func Rebuild(keys []string) []error {
	var errs []error
	registry.RLock()
	defer registry.RUnlock()
	for _, k := range keys {
		if n, ok := strings.CutPrefix(k, "errno:"); ok {
			if v, err := strconv.ParseUint(n, 10, 32); err == nil {
				errs = append(errs, syscall.Errno(v))
			}
			continue
		}
		if e, ok := registry.byKey[k]; ok {
			errs = append(errs, e)
		}
	}
	return errs
}

// Remote is an error rebuilt from another process: its text as that
// process printed it, unwrapping to the registered sentinels it carried.
type Remote struct {
	Text    string
	Wrapped []error
}

func (e *Remote) Error() string   { return e.Text }
func (e *Remote) Unwrap() []error { return e.Wrapped }

// Roundtrip encodes err as another process would send it and rebuilds it
// here: what a parent sees of a child's err. Tests use it.
func Roundtrip(err error) error {
	if err == nil {
		return nil
	}
	return &Remote{Text: err.Error(), Wrapped: Rebuild(Keys(err))}
}

// The standard library's sentinels that a child's error commonly wraps.
func init() {
	Register(
		ErrClosed, ErrCorrupt, ErrTooLarge,
		io.EOF, io.ErrUnexpectedEOF, io.ErrClosedPipe, io.ErrShortWrite, io.ErrShortBuffer, io.ErrNoProgress,
		fs.ErrNotExist, fs.ErrExist, fs.ErrPermission, fs.ErrClosed, fs.ErrInvalid,
		os.ErrDeadlineExceeded, os.ErrProcessDone, os.ErrNoDeadline,
		context.Canceled, context.DeadlineExceeded, errors.ErrUnsupported,
	)
}
