package sync

import (
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// A *Value or *Array in a spawn argument travels as its handle, as the
// other primitives do (travel.go): the child receives it bound, its lock
// with it.

// MarshalText returns the handle's text form.
func (v *Value[T]) MarshalText() ([]byte, error) { return text(v.Handle()) }

// UnmarshalText binds the Value the text names (OpenValue).
func (v *Value[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, v, shm.ParseHandle, OpenValue[T])
}

// MarshalBinary is MarshalText, for gob.
func (v *Value[T]) MarshalBinary() ([]byte, error) { return v.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (v *Value[T]) UnmarshalBinary(b []byte) error { return v.UnmarshalText(b) }

// MarshalText returns the handle's text form.
func (a *Array[T]) MarshalText() ([]byte, error) { return text(a.Handle()) }

// UnmarshalText binds the Array the text names (OpenArray).
func (a *Array[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, a, shm.ParseHandle, OpenArray[T])
}

// MarshalBinary is MarshalText, for gob.
func (a *Array[T]) MarshalBinary() ([]byte, error) { return a.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (a *Array[T]) UnmarshalBinary(b []byte) error { return a.UnmarshalText(b) }
