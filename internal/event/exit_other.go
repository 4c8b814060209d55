//go:build !linux

package event

import "errors"

// OnExit needs pidfds (Linux); elsewhere it fails, and the caller watches
// another way.
func OnExit(pid int, same func() bool, fn func()) (stop func(), gone bool, err error) {
	return nil, false, errors.ErrUnsupported
}
