package shm

import "github.com/forkless-go/forkless/internal/wire"

// A *Value or *Array in a spawn argument (or a field of one) travels as its
// handle: spawn shares its region with the child, which receives it bound.
// These methods are how the codecs carry it (encoding.TextMarshaler for JSON, BinaryMarshaler for gob).

// MarshalText returns the value's handle in its text form.
func (v *Value[T]) MarshalText() ([]byte, error) { return wire.HandleText(v.Handle(), "value") }

// UnmarshalText binds the value named by a handle's text form.
func (v *Value[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, v, ParseHandle, OpenValue[T])
}

// MarshalText returns the array's handle in its text form (a view made by
// ArrayAt has none and cannot travel).
func (a *Array[T]) MarshalText() ([]byte, error) { return wire.HandleText(a.Handle(), "array view") }

// UnmarshalText binds the array named by a handle's text form.
func (a *Array[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, a, ParseHandle, OpenArray[T])
}

// The same as binary, for gob (which does not use MarshalText).

// MarshalBinary is MarshalText, for gob.
func (v *Value[T]) MarshalBinary() ([]byte, error) { return v.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (v *Value[T]) UnmarshalBinary(b []byte) error { return v.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (a *Array[T]) MarshalBinary() ([]byte, error) { return a.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (a *Array[T]) UnmarshalBinary(b []byte) error { return a.UnmarshalText(b) }
