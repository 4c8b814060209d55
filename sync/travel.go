package sync

import (
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// A primitive in a spawn argument (or a field of one) travels as its
// handle: spawn shares its region with the child, which receives it bound.
// These methods are how the codecs carry it (encoding.TextMarshaler for JSON, BinaryMarshaler for gob). A
// primitive placed with an At function has no handle and cannot travel.

func text(h shm.Handle) ([]byte, error) {
	return wire.HandleText(h, "a primitive placed with an At function")
}

// MarshalText returns the handle's text form.
func (m *Mutex) MarshalText() ([]byte, error) { return text(m.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (m *Mutex) UnmarshalText(b []byte) error { return wire.BindText(b, m, shm.ParseHandle, OpenMutex) }

// MarshalText returns the handle's text form.
func (l *RLock) MarshalText() ([]byte, error) { return text(l.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (l *RLock) UnmarshalText(b []byte) error { return wire.BindText(b, l, shm.ParseHandle, OpenRLock) }

// MarshalText returns the handle's text form.
func (rw *RWMutex) MarshalText() ([]byte, error) { return text(rw.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (rw *RWMutex) UnmarshalText(b []byte) error {
	return wire.BindText(b, rw, shm.ParseHandle, OpenRWMutex)
}

// MarshalText returns the handle's text form.
func (s *Semaphore) MarshalText() ([]byte, error) { return text(s.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (s *Semaphore) UnmarshalText(b []byte) error {
	return wire.BindText(b, s, shm.ParseHandle, OpenSemaphore)
}

// MarshalText returns the handle's text form.
func (s *BoundedSemaphore) MarshalText() ([]byte, error) { return text(s.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (s *BoundedSemaphore) UnmarshalText(b []byte) error {
	return wire.BindText(b, s, shm.ParseHandle, OpenBoundedSemaphore)
}

// MarshalText returns the handle's text form.
func (c *Cond) MarshalText() ([]byte, error) { return text(c.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (c *Cond) UnmarshalText(b []byte) error { return wire.BindText(b, c, shm.ParseHandle, OpenCond) }

// MarshalText returns the handle's text form.
func (e *Event) MarshalText() ([]byte, error) { return text(e.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (e *Event) UnmarshalText(b []byte) error { return wire.BindText(b, e, shm.ParseHandle, OpenEvent) }

// MarshalText returns the handle's text form.
func (b *Barrier) MarshalText() ([]byte, error) { return text(b.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (b *Barrier) UnmarshalText(t []byte) error {
	return wire.BindText(t, b, shm.ParseHandle, OpenBarrier)
}

// MarshalText returns the handle's text form.
func (wg *WaitGroup) MarshalText() ([]byte, error) { return text(wg.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (wg *WaitGroup) UnmarshalText(b []byte) error {
	return wire.BindText(b, wg, shm.ParseHandle, OpenWaitGroup)
}

// The same as binary, for gob (which does not use MarshalText).

// MarshalBinary is MarshalText, for gob.
func (m *Mutex) MarshalBinary() ([]byte, error) { return m.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (m *Mutex) UnmarshalBinary(b []byte) error { return m.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (l *RLock) MarshalBinary() ([]byte, error) { return l.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (l *RLock) UnmarshalBinary(b []byte) error { return l.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (rw *RWMutex) MarshalBinary() ([]byte, error) { return rw.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (rw *RWMutex) UnmarshalBinary(b []byte) error { return rw.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (s *Semaphore) MarshalBinary() ([]byte, error) { return s.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (s *Semaphore) UnmarshalBinary(b []byte) error { return s.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (s *BoundedSemaphore) MarshalBinary() ([]byte, error) { return s.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (s *BoundedSemaphore) UnmarshalBinary(b []byte) error { return s.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (c *Cond) MarshalBinary() ([]byte, error) { return c.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (c *Cond) UnmarshalBinary(b []byte) error { return c.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (e *Event) MarshalBinary() ([]byte, error) { return e.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (e *Event) UnmarshalBinary(b []byte) error { return e.UnmarshalText(b) }

// MarshalBinary is MarshalText, for gob.
func (b *Barrier) MarshalBinary() ([]byte, error) { return b.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (b *Barrier) UnmarshalBinary(t []byte) error { return b.UnmarshalText(t) }

// MarshalBinary is MarshalText, for gob.
func (wg *WaitGroup) MarshalBinary() ([]byte, error) { return wg.MarshalText() }

// UnmarshalBinary is UnmarshalText, for gob.
func (wg *WaitGroup) UnmarshalBinary(b []byte) error { return wg.UnmarshalText(b) }
