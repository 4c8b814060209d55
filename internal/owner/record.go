package owner

import (
	"sync"
	"sync/atomic"
)

// Record is this process's own account of one lock: how many of its
// goroutines hold it or are taking it (counted before the CAS that takes
// the lock, uncounted after the CAS that releases it). It lives in this
// process's memory, where no other process can write, so a lock word
// that names this process while the Record says no goroutine here holds
// it was written by another process (a scribble, or a stale copy of the
// word): not a hold of this process's, and never to be treated as one
// (a recursive hold of an RLock, say). Every view of one lock in a
// process shares its Record ([RecordFor]), whatever mapping it goes
// through.
type Record struct{ n atomic.Int32 }

// RecordKey names a lock across the mappings of a process: its region's
// id and its word's offset in the region.
type RecordKey struct {
	Region uint64
	Off    int64
}

var records sync.Map // RecordKey -> *Record

// RecordFor returns the Record of the lock k names, made at first use.
// Records are few (one per lock a process binds) and never freed.
func RecordFor(k RecordKey) *Record {
	if r, ok := records.Load(k); ok {
		return r.(*Record)
	}
	r, _ := records.LoadOrStore(k, new(Record))
	return r.(*Record)
}

// Enter counts a goroutine of this process about to take the lock (call
// it before the taking CAS).
func (r *Record) Enter() { r.n.Add(1) }

// Leave uncounts one, after the CAS that released the lock or after a take
// that failed. A Leave without its Enter (a bug of the caller's) is undone.
func (r *Record) Leave() {
	if r.n.Add(-1) < 0 {
		r.n.Add(1)
	}
}

// Holds reports whether some goroutine of this process holds the lock or
// is taking it: false means a word naming this process is foreign.
func (r *Record) Holds() bool { return r.n.Load() > 0 }

// alone reports whether the caller, counted, is the only goroutine of this
// process holding or taking the lock: a word that names this process then
// names a hold nobody here has.
func (r *Record) alone() bool { return r.n.Load() <= 1 }
