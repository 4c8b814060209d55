package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/internal/wire"
)

// Chunks: how a pool cuts a map into tasks, and the bytes a chunk travels
// as. A task carries a run of consecutive items of one job; its argument
// payload and its result payload are lists of per-item records. Both live in
// shared memory (inline in the ring descriptor when small, else in the
// worker's heap) and are parsed by the other process, so the parsers below
// check every length against the bytes they were given and fail with
// errChunk rather than read past them (FuzzParseResults).
//
// Argument payload (parent writes, worker reads):
//
//	[name]                  only when the descriptor has flagName: uvarint
//	                        length, then the registered function's name
//	item*                   Count times: uvarint length, then the encoded argument
//
// Result payload (worker writes, parent reads), one record per item, in order:
//
//	status:u8               itemOK, itemError, itemPanic or itemSkipped
//	itemOK:                 uvarint length, then the encoded result
//	itemError, itemPanic:   message, type, stack (each uvarint length + bytes),
//	                        then nkeys:uvarint and that many keys (the
//	                        registered sentinel errors found in the error)
//	itemSkipped:            nothing (the job was cancelled before the item ran)

const (
	itemOK      = 0
	itemError   = 1
	itemPanic   = 2
	itemSkipped = 3
)

var errChunk = errors.New("malformed chunk")

// ChunkSize returns the chunk size Python's Pool.map picks for n items on
// workers workers: n / (4*workers), rounded up, at least 1. Four chunks per
// worker keep the workers busy to the end while the cost per task is paid
// only a few times.
func ChunkSize(n, workers int) int {
	if n <= 0 {
		return 1
	}
	workers = max(workers, 1)
	c, extra := n/(4*workers), n%(4*workers)
	if extra != 0 {
		c++
	}
	return max(c, 1)
}

// itemResult is one parsed record of a result payload. Its byte slices
// point into the payload: copy (decode) them before the payload is freed.
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
	dst = append(dst, itemOK)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
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
