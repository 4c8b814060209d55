package errs

import "errors"

// ErrEncode: a value cannot travel to another process (or what came back
// cannot be decoded). It is the one encoding sentinel of every forkless
// package: each error that wraps it also names the path of the part that
// cannot travel, as "argument.Jobs (chan int)" or "value.F (func())", so
// that the message says what to change. spawn re-exports it as
// spawn.ErrEncode; other packages wrap it (fmt.Errorf("put: %s: %w",
// path, errs.ErrEncode)) rather than declare their own.
var ErrEncode = errors.New("cannot encode")

func init() { Register(ErrEncode) }
