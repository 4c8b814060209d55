package sync

import (
	"github.com/forkless-go/forkless/internal/wire"
	"github.com/forkless-go/forkless/shm"
)

// A primitive in a spawn argument (or a field of one) travels as its
// handle: spawn shares its region with the child, which receives it bound.
// These methods are how the codecs carry it (encoding.TextMarshaler). A
// primitive placed with an At function has no handle and cannot travel.

func text(h shm.Handle) ([]byte, error) { return wire.HandleText(h, "a primitive placed with an At function") }

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
func (b *Barrier) UnmarshalText(t []byte) error { return wire.BindText(t, b, shm.ParseHandle, OpenBarrier) }

// MarshalText returns the handle's text form.
func (wg *WaitGroup) MarshalText() ([]byte, error) { return text(wg.Handle()) }

// UnmarshalText binds the primitive a handle's text form names.
func (wg *WaitGroup) UnmarshalText(b []byte) error {
	return wire.BindText(b, wg, shm.ParseHandle, OpenWaitGroup)
}
