package owner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/proc"
)

// Word is an owner word: who holds the thing it guards, and whether anyone
// waits (see the package documentation for its bits). The zero Word names
// nobody.
type Word uint64

const (
	// PidMask selects the pid bits of a Word.
	PidMask = 1<<30 - 1
	// Waiters is the bit a waiter sets before it sleeps on the word's low
	// half; a release that finds it set makes the futex wake.
	Waiters Word = 1 << 31
	// Inconsistent is set, on a RobustLock, while the holder named in the
	// word took the lock from a dead holder and has not yet marked what it
	// guards consistent (RobustLock.MarkConsistent).
	Inconsistent Word = 1 << 30
	// NotRecoverable is the word of a RobustLock whose holder unlocked
	// it while Inconsistent: it names nobody, and every later lock call
	// fails with ErrNotRecoverable (perhaps with the waiters bit too).
	NotRecoverable Word = Inconsistent
)

// ErrOwnerDead: the process holding the lock died, and this call took the
// lock from it. The caller holds the lock, exactly as after a successful
// lock; what the lock guards may be half-updated.
var ErrOwnerDead = errors.New("lock owner died")

// ErrNotRecoverable: a holder that took a robust lock with ErrOwnerDead
// unlocked it without marking what it guards consistent, so the lock can
// never be trusted again: every lock call fails with it, without the lock
// (pthread's ENOTRECOVERABLE).
var ErrNotRecoverable = errors.New("lock not recoverable")

func init() { errs.Register(ErrOwnerDead, ErrNotRecoverable) }

// ID is a process as an owner word names it.
type ID struct {
	Pid   int32
	Start uint32 // the low 32 bits of its start time in clock ticks
}

// Word returns the owner word naming id, without the waiters bit.
func (id ID) Word() Word { return Word(id.Start)<<32 | Word(uint32(id.Pid)&PidMask) }

// ID returns the process w names.
func (w Word) ID() ID { return ID{Pid: int32(w & PidMask), Start: uint32(w >> 32)} }

// Pid returns the pid w names (0: nobody).
func (w Word) Pid() int { return int(w & PidMask) }

// Holder returns w without its waiters and inconsistent bits: the
// identity alone (0 for a NotRecoverable word, which names nobody).
func (w Word) Holder() Word { return w &^ (Waiters | Inconsistent) }

// Lost reports whether w is the NotRecoverable word (waiters bit or not).
func (w Word) Lost() bool { return w&^Waiters == NotRecoverable }

// HasWaiters reports whether w carries the waiters bit.
func (w Word) HasWaiters() bool { return w&Waiters != 0 }

// Valid reports whether w is a word this package could have written:
// nobody (0), NotRecoverable, or a pid with its start time and perhaps the
// waiters and inconsistent bits. Another process could have scribbled
// anything into shared memory; a word naming pid 0 that is not 0 would
// otherwise hold its lock for ever (nobody to find dead).
func (w Word) Valid() bool { return w == 0 || w.Pid() != 0 || w.Lost() }

// self is this process's identity, computed at first use (not at package
// init: an importer must never fail, let alone panic, just by importing).
var self = sync.OnceValues(func() (Word, error) { return wordOf(proc.Self()) })

// Self returns the owner word naming this process (without the waiters
// bit). It fails only when the pid does not fit the word's 30 bits, which
// Linux (pid_max <= 2^22) never does.
func Self() (Word, error) { return self() }

func wordOf(id proc.ID) (Word, error) {
	if id.Pid <= 0 || id.Pid > PidMask {
		return 0, fmt.Errorf("identify this process: pid %d does not fit an owner word: %w", id.Pid, errors.ErrUnsupported)
	}
	return ID{Pid: id.Pid, Start: uint32(id.Start)}.Word(), nil
}

// FutexOffset is the byte offset of a Word's low half (bits 0-31, the
// futex word) from the Word's address: 0 on little-endian machines, 4 on
// big-endian ones.
var FutexOffset = func() int {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return 0
	}
	return 4
}()
