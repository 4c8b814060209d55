package shared

import "github.com/forkless-go/forkless/internal/wire"

// A *Dict, *List, *ShareableList or *Record in a spawn argument (or a field
// of one) travels as its handle: spawn shares its heap's region with the
// child, which receives it bound. These methods are how the codecs carry it
// (encoding.TextMarshaler for JSON, BinaryMarshaler for gob). It travels with the default options: one made
// with another codec is refused when the child binds it.

// MarshalText returns the dict's handle in its text form.
func (d *Dict[K, V]) MarshalText() ([]byte, error) { return wire.HandleText(d.Handle(), "dict") }

// UnmarshalText binds the dict a handle's text form names.
func (d *Dict[K, V]) UnmarshalText(b []byte) error {
	return wire.BindText(b, d, ParseHandle, func(h Handle) (*Dict[K, V], error) { return OpenDict[K, V](h) })
}

// MarshalText returns the list's handle in its text form.
func (l *List[V]) MarshalText() ([]byte, error) { return wire.HandleText(l.Handle(), "list") }

// UnmarshalText binds the list a handle's text form names.
func (l *List[V]) UnmarshalText(b []byte) error {
	return wire.BindText(b, l, ParseHandle, func(h Handle) (*List[V], error) { return OpenList[V](h) })
}

// MarshalText returns the list's handle in its text form.
func (s *ShareableList[V]) MarshalText() ([]byte, error) {
	return wire.HandleText(s.Handle(), "shareable list")
}

// UnmarshalText binds the list a handle's text form names.
func (s *ShareableList[V]) UnmarshalText(b []byte) error {
	return wire.BindText(b, s, ParseHandle, func(h Handle) (*ShareableList[V], error) { return OpenShareableList[V](h) })
}

// MarshalText returns the record's handle in its text form.
func (r *Record[T]) MarshalText() ([]byte, error) { return wire.HandleText(r.Handle(), "record") }

// UnmarshalText binds the record a handle's text form names.
func (r *Record[T]) UnmarshalText(b []byte) error {
	return wire.BindText(b, r, ParseHandle, func(h Handle) (*Record[T], error) { return OpenRecord[T](h) })
}

// The same as binary, for gob (which does not use MarshalText).

// MarshalBinary is MarshalText, for gob.
func (d *Dict[K, V]) MarshalBinary() ([]byte, error) { return d.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (d *Dict[K, V]) UnmarshalBinary(b []byte) error { return d.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (l *List[V]) MarshalBinary() ([]byte, error) { return l.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (l *List[V]) UnmarshalBinary(b []byte) error { return l.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (s *ShareableList[V]) MarshalBinary() ([]byte, error) { return s.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (s *ShareableList[V]) UnmarshalBinary(b []byte) error { return s.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (r *Record[T]) MarshalBinary() ([]byte, error) { return r.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (r *Record[T]) UnmarshalBinary(b []byte) error { return r.UnmarshalText(b) }
