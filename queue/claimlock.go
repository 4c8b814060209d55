package queue

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/forkless-go/forkless/internal/owner"
	"github.com/forkless-go/forkless/internal/spin"
)

// The claim lock serializes producers' claims: under it a producer reads
// tail, checks room, writes the record headers and stores tail. It is held
// for a few dozen instructions (no system call, no allocation); a payload
// of up to commitInLock bytes is copied under it (putLocked), a larger one
// outside it, so producers copy large messages in parallel.
//
// Why a lock and not a CAS on tail: the header must name the claimer before
// any consumer can see the claimed space, or a producer killed between its
// CAS and its header write would leave bytes nobody can skip (their length
// and owner unknown). Under the lock the header is written first and tail
// stored last.
//
// The lock is an internal/owner robust lock on ringHeader.lock: waiters
// spin, then sleep on the word's futex. Past a microsecond their spin also
// yields the CPU (spin.Budget.StartLock): with more producers than cores,
// spinning waiters took CPU from the holder and from the consumer (4
// producers, 1 consumer, 2 cores: +22-58% with the yields,
// docs/bench/queue.md). A waiter that finds the holder dead takes the
// lock over (one CAS from exactly the dead holder's word, so two
// recoverers cannot both win). What a dead holder left is harmless: a
// header written past tail is overwritten by the next claim, and a record
// it had already published by storing tail is claimed by a dead owner,
// which consumers free (takeReady). So a takeover (owner.ErrOwnerDead) is
// an ordinary acquisition here.

// claimLockAt places the claim lock on the ring header's lock word.
func claimLockAt(mem []byte, budget *spin.Budget) (owner.Lock, error) {
	me, err := owner.Self()
	if err != nil {
		return owner.Lock{}, fmt.Errorf("claim lock: %w", err)
	}
	l, err := owner.LockAt(mem, int(unsafe.Offsetof(ringHeader{}.lock)), me, budget)
	if err != nil {
		return owner.Lock{}, fmt.Errorf("claim lock: %w (%w)", ErrCorrupt, err)
	}
	return l, nil
}

// lockClaim takes the claim lock, waiting until ctx is done.
func (q *records) lockClaim(ctx context.Context) error {
	if err := q.lock.LockContext(ctx); err != nil && err != owner.ErrOwnerDead {
		return err
	}
	return nil
}

// tryLockClaim takes the claim lock for a caller that must not block
// (TryPut, recoverers): it waits at most tryLockFor, which only a holder
// that is stopped (SIGSTOP) or dead and not yet recovered, or a corrupt
// lock word naming a live process, can make it reach, and reports whether
// it got the lock.
func (q *records) tryLockClaim() bool {
	if q.lock.TryLock() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), tryLockFor)
	defer cancel()
	return q.lockClaim(ctx) == nil
}

// unlockClaim releases the claim lock (the release hands tail, puts and the
// headers written under the lock to the next holder).
func (q *records) unlockClaim() { q.lock.Unlock() }
