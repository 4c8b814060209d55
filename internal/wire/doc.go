// Package wire is how forkless values and errors become bytes for another
// process of the same binary, and back: the one encoding that spawn's
// pipes, the pool's task records and the shared containers use.
//
// A value of a fixed-size, pointer-free type travels as its raw bytes (both
// ends run the same binary, so the layout is the same); any other value
// goes through a [Codec] ([Gob] by default, or [JSON]). [Encode] refuses,
// with [ErrEncode] and the path to the bad part, a value that no codec can
// carry (a channel, a func). [For] decides raw or codec once per type, for
// hot paths.
//
// An error travels as an [ErrorBody]: its text, its Go type, the stack of a
// panic, and the keys of the registered sentinel errors in its tree
// (internal/errs), so that errors.Is holds on the other side.
//
// Length-prefixed fields are read back with a [Reader], which checks every
// length against the bytes it was given: the bytes come from another
// process, and a malformed record is an error, never a panic.
package wire
