package shared

import (
	"context"
	"encoding/binary"
)

// Recoveries reports how many container locks this process took over from
// a holder that died.
func Recoveries() int64 { return recoveries.Load() }

// MoveDying is Insert(at, v), or PopAt(at) when drop is set, stopped where
// a process killed between its stores of root and count would stop: the
// journal and the new root stored, the count not, the old array not freed,
// and the lock held by an owner that names no process.
func MoveDying[V any](l *List[V], at int, drop bool, v V) error {
	var off int64
	if !drop {
		b, err := l.vc.encode(&v)
		if err != nil {
			return err
		}
		if off, err = l.newItem(b); err != nil {
			return err
		}
	}
	if err := l.lock(context.Background()); err != nil {
		return err
	}
	s, n, err := l.state()
	if err != nil {
		return err
	}
	root, err := l.rebuilt(s, n, at, drop, off)
	if err != nil {
		return err
	}
	next := n + 1
	if drop {
		next = n - 1
	}
	l.c.hdr.seq.Store(uint64(next))
	l.c.hdr.tombs.Store(uint64(root))
	l.c.hdr.root.Store(uint64(root))
	binary.LittleEndian.PutUint64(l.c.hdr.lock[:8], 1<<40) // the holder is gone
	return nil
}
