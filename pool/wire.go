package pool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unsafe"

	ierrs "github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/internal/wire"
)

// The task wire: the descriptors that travel through a worker's rings and
// the payloads they point to. Both live in shared memory (a payload inline
// in its descriptor when small, else in the worker's heap) and are parsed
// by the other process, so the parsers check every length against the
// bytes they were given and fail with errChunk rather than read past them
// (FuzzParseResults).
//
// A task is a run of consecutive items of one job; a descriptor carries
// one task, or a group of one-item tasks (flagGroup, group.go) whose
// payloads then read as one task's. Its argument payload (parent writes,
// worker reads):
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
	Sum    uint32   // checksum of the descriptor and its payload (descSum)
	Inline [84]byte // the payload itself when it fits
}

// resultDesc is a slot of the result ring: one task's results (or one
// group's).
type resultDesc struct {
	ID     uint64   // the task's id
	Nanos  uint64   // time the worker spent running the task
	Flags  uint32   // flagHeap
	Len    uint32   // payload bytes
	Off    int64    // heap offset of the payload when flagHeap
	Sum    uint32   // checksum of the descriptor and its payload (descSum)
	Inline [92]byte // the payload itself when it fits
}

// Both descriptors are 128 bytes, two cache lines: room inline for eight
// one-item tasks' small arguments (a group, group.go) and their results.
const (
	taskInlineOff   = int(unsafe.Offsetof(taskDesc{}.Inline))
	resultInlineOff = int(unsafe.Offsetof(resultDesc{}.Inline))
)

var (
	_ [unsafe.Sizeof(taskDesc{}) - 128]struct{}
	_ [128 - unsafe.Sizeof(taskDesc{})]struct{}
	_ [unsafe.Sizeof(resultDesc{}) - 128]struct{}
	_ [128 - unsafe.Sizeof(resultDesc{})]struct{}
	_ [taskInlineOff - 44]struct{}
	_ [44 - taskInlineOff]struct{}
	_ [resultInlineOff - 36]struct{}
	_ [36 - resultInlineOff]struct{}
)

// Both descriptors are checksummed with their payloads by their writer,
// over its private copy, and checked by their reader over a private copy
// it then uses: a task that scribbles its own worker's region (its rings,
// its heap) makes a checksum fail, and the reader treats the other side as
// broken (the worker exits and its tasks go back; the parent kills the
// worker and fails or retries the task), never a wrong result with a nil
// error. The checksum guards against stray writes, not against an
// adversary: a multiply-xor over 8-byte words in four lanes, about 1 ns
// per 16 bytes, with no call and no allocation.

// taskSum and resultSum are the checksums of a descriptor (with its Sum
// field taken as 0) and of payload, its payload when not inline. Of the
// inline area only the first Len bytes count (a reader reads no more): a
// one-int task sums 53 bytes, not 128. Len itself is summed, and the
// length summed is mixed in (sum64), so a Len changed by a stray write
// changes the sum.
func taskSum(d taskDesc, payload []byte) uint32 {
	d.Sum = 0
	b := mapped.Bytes(&d)[:taskInlineOff+min(int(d.Len), len(d.Inline))]
	return fold(sumWith(payload, sum64(b, 1)))
}

func resultSum(d resultDesc, payload []byte) uint32 {
	d.Sum = 0
	b := mapped.Bytes(&d)[:resultInlineOff+min(int(d.Len), len(d.Inline))]
	return fold(sumWith(payload, sum64(b, 2)))
}

// sumWith mixes a payload that is not inline into a descriptor's sum h.
// An inline payload (nil here) adds nothing: it is in the descriptor, and
// a second pass would cost as much as the first, four times per task.
// The descriptor says where its payload is and how long (Flags, Len), so
// a payload cannot go missing without changing the descriptor's bytes.
func sumWith(payload []byte, h uint64) uint64 {
	if len(payload) == 0 {
		return h
	}
	return sum64(payload, h)
}

const sumMul = 0x9E3779B97F4A7C15

// sum64 mixes b into h.
func sum64(b []byte, h uint64) uint64 {
	h ^= uint64(len(b)) * sumMul
	l0, l1, l2, l3 := h, h^1, h^2, h^3
	for len(b) >= 32 {
		l0 = (l0 ^ binary.LittleEndian.Uint64(b)) * sumMul
		l1 = (l1 ^ binary.LittleEndian.Uint64(b[8:])) * sumMul
		l2 = (l2 ^ binary.LittleEndian.Uint64(b[16:])) * sumMul
		l3 = (l3 ^ binary.LittleEndian.Uint64(b[24:])) * sumMul
		l0, l1, l2, l3 = l0^l0>>29, l1^l1>>29, l2^l2>>29, l3^l3>>29
		b = b[32:]
	}
	h = (l0 ^ bits.RotateLeft64(l1, 17) ^ bits.RotateLeft64(l2, 31) ^ bits.RotateLeft64(l3, 47)) * sumMul
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * sumMul
		h ^= h >> 29
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * sumMul
	}
	return h ^ h>>32
}

func fold(h uint64) uint32 { return uint32(h) ^ uint32(h>>32) }

// errSum: a descriptor or payload does not match its checksum.
var errSum = fmt.Errorf("checksum mismatch: %w", ierrs.ErrCorrupt)

const (
	flagName = 1 << 0 // the payload starts with the function's name
	flagHeap = 1 << 1 // the payload is in the worker's heap at Off
	// flagTooLarge: the results did not fit the worker's heap; Len says how
	// large they were. Every item of the task fails with ErrTooLarge.
	flagTooLarge = 1 << 2
	// flagGroup: each of the Count items is a task of its own, with ids
	// ID, ID+1, ...: one-item tasks of one job sharing a descriptor
	// (group.go). Their results come back in one result descriptor, whose
	// ID is the first's.
	flagGroup = 1 << 3
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
