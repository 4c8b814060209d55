package queue

import (
	"fmt"

	"github.com/forkless-go/forkless/shm"
)

// Conn is a Pipe end reached through a Listener: Python's Connection from
// Listener.accept() or Client(address). It carries the anonymous region its
// pipe lives in (made by the accepting side, passed to the dialler as a
// descriptor), and Close closes the pipe, then unmaps the region: do not
// use the Conn, or messages taken from it, after Close.
type Conn struct {
	*Pipe
	r *shm.Region
}

// Region returns the region the connection's pipe lives in.
func (c *Conn) Region() *shm.Region { return c.r }

// Close closes the pipe for both ends and unmaps this process's mapping of
// its region (the peer's stays until it closes its end). Closing twice
// returns ErrClosed.
func (c *Conn) Close() error {
	if err := c.Pipe.Close(); err != nil {
		return err
	}
	if err := c.r.Close(); err != nil {
		return fmt.Errorf("close conn: %w", err)
	}
	return nil
}

// connRegionSize is the region an accepted connection makes for its two
// rings of c.Bytes each and their spill areas (an explicit Spill, or room
// for two full default ones, which take at most a quarter of the room
// left each: 5 areas' worth), with room for headers. An anonymous
// region's pages cost memory only once touched.
func connRegionSize(c Config) (int64, error) {
	c, err := c.withDefaults()
	if err != nil {
		return 0, err
	}
	ring := int64(MinBytes)
	for ring < int64(c.Bytes) {
		ring <<= 1
	}
	if c.Spill == 0 {
		return 2*ring + 5*max(defaultSpillRings*ring, defaultSpillMin) + 64<<10, nil
	}
	return 2*(ring+max(c.Spill, 0)) + 64<<10, nil
}
