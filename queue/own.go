package queue

import (
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// A queue or pipe made with a nil region gets one of its own: an anonymous
// region sized for two rings of its Config and their default spill areas
// (connRegionSize), whose pages cost memory only once touched. The object
// does not close it, since other processes may still be draining the ring
// and this one may still read its messages: Region returns it, for the
// creator to close once it is done with the object (or it lives until the
// process exits). Passing the object to a child shares it, as any other.

// ownRegion returns r, or a new region for c when r is nil, with the undo
// that closes a new one (a no-op for the caller's).
func ownRegion(r *shm.Region, c Config) (*shm.Region, func(), error) {
	if r != nil {
		return r, func() {}, nil
	}
	size, err := connRegionSize(c)
	if err != nil {
		return nil, nil, err
	}
	r, err = shm.New(size)
	if err != nil {
		return nil, nil, fmt.Errorf("region of its own: %w", err)
	}
	return r, func() { r.Close() }, nil //nolint:errcheck // undoing a failed New
}

// Region returns the region the queue lives in: the caller's, or the one
// New made for it when given none.
func (q *Queue) Region() *shm.Region { return q.q.b.Region() }

// Region returns the region the queue lives in (see Queue.Region).
func (t *Of[T]) Region() *shm.Region { return t.q.b.Region() }

// Region returns the region the queue lives in (see Queue.Region).
func (j *Joinable) Region() *shm.Region { return j.q.b.Region() }

// Region returns the region the pipe lives in: the caller's, or the one
// NewPipe made for it when given none.
func (p *Pipe) Region() *shm.Region {
	if p.send != nil {
		return p.send.b.Region()
	}
	return p.recv.b.Region()
}
