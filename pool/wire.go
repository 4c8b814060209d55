package pool

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/internal/wire"
)

// The task wire: the descriptors that travel through a worker's rings and
// the payloads they point to. Both live in shared memory (a payload inline
// in its descriptor when small, else in the worker's heap) and are parsed
// by the other process, so the parsers check every length against the
// bytes they were given and fail with errChunk rather than read past them
// (FuzzParseResults).
//
// A task is a run of consecutive items of one job. Its argument payload
// (parent writes, worker reads):
//
//	[name]                  only when the descriptor has flagName: the
//	                        registered function's name, length-prefixed
//	item*                   Count times: the encoded argument, length-prefixed
//
// Its result payload (worker writes, parent reads), one record per item, in
// order:
//
//	status:u8               itemOK, itemError, itemPanic or itemSkipped
//	itemOK:                 the encoded result, length-prefixed
//	itemError, itemPanic:   a wire.ErrorBody (message, type, stack, keys)
//	itemSkipped:            nothing (the job was cancelled before the item ran)

// taskDesc is a slot of the task ring: one task, parent to worker.
type taskDesc struct {
	ID     uint64   // the task's id, unique in the pool, increasing
	Job    uint64   // the job (one Map, one Submit...) the task belongs to
	Flags  uint32   // flagName, flagHeap
	Count  uint32   // items in the task
	Len    uint32   // payload bytes
	Fid    uint32   // the function, numbered by the pool; its name travels once per worker (flagName)
	Off    int64    // heap offset of the payload when flagHeap
	Inline [24]byte // the payload itself when it fits
}

// resultDesc is a slot of the result ring: one task's results.
type resultDesc struct {
	ID     uint64   // the task's id
	Nanos  uint64   // time the worker spent running the task
	Flags  uint32   // flagHeap
	Len    uint32   // payload bytes
	Off    int64    // heap offset of the payload when flagHeap
	Inline [32]byte // the payload itself when it fits
}

const (
	flagName = 1 << 0 // the payload starts with the function's name
	flagHeap = 1 << 1 // the payload is in the worker's heap at Off
	// flagTooLarge: the results did not fit the worker's heap; Len says how
	// large they were. Every item of the task fails with ErrTooLarge.
	flagTooLarge = 1 << 2
)

// Item statuses of a result payload.
const (
	itemOK      = 0
	itemError   = 1
	itemPanic   = 2
	itemSkipped = 3
)

var errChunk = errors.New("malformed chunk")

// itemResult is one parsed record of a result payload. value points into
// the payload: decode it before the payload is freed.
type itemResult struct {
	status byte
	value  []byte
	err    wire.ErrorBody // itemError, itemPanic
}

// parseResults calls fn for each of the n records of a result payload, in
// order, and fails with errChunk on anything malformed (fn may have been
// called for the records before it).
func parseResults(b []byte, n int, fn func(i int, it itemResult)) error {
	r := wire.NewReader(b, errChunk)
	var it itemResult
	for i := range n {
		it = itemResult{status: r.Byte()}
		switch it.status {
		case itemOK:
			it.value = r.Bytes()
		case itemError, itemPanic:
			it.err = r.ErrorBody()
			it.err.Panicked = it.status == itemPanic
		case itemSkipped:
		default:
			if r.Err() == nil {
				return fmt.Errorf("parse results: item %d of %d: status %d: %w", i, n, it.status, errChunk)
			}
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("parse results: item %d of %d: %w", i, n, err)
		}
		fn(i, it) // by value: a pointer would make it escape, one allocation per task
	}
	return nil
}

// appendOK appends a successful item's record.
func appendOK(dst, value []byte) []byte {
	return wire.AppendBytes(append(dst, itemOK), value)
}

// appendFailed appends a failed item's record: itemPanic or itemError,
// then the error body.
func appendFailed(dst []byte, body wire.ErrorBody) []byte {
	status := byte(itemError)
	if body.Panicked {
		status = itemPanic
	}
	return wire.AppendErrorBody(append(dst, status), body)
}

// fixLength writes the uvarint length of out[at+1:] at out[at], where one
// byte was reserved, moving the value right when the length needs more.
// The worker appends a result in place after a one-byte length, so a
// fixed-size result costs no allocation.
func fixLength(out []byte, at int) []byte {
	n := len(out) - at - 1
	if n < 0x80 {
		out[at] = byte(n)
		return out
	}
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(n))
	out = append(out, tmp[:k-1]...) // room for the k-1 extra length bytes
	copy(out[at+k:], out[at+1:at+1+n])
	copy(out[at:], tmp[:k])
	return out
}
