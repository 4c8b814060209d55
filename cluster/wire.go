package cluster

import (
	"encoding/binary"
	"fmt"
	"time"
)

// WireVersion is the version of the chunk and result encodings below. A
// node answers a chunk of another version with ErrWireVersion; the caller
// reads only results of its own version.
const WireVersion = 1

// Limits of the wire format: a decoder refuses anything beyond them before
// allocating for it. Bytes from the network are hostile.
const (
	maxName    = 1024    // a function, codec or node name
	maxItems   = 1 << 20 // items in one chunk or result message
	maxAttempt = 1 << 16 // an attempts base
)

// Message headers. The version, task and reply subject travel as headers so
// that a node can answer a chunk whose body it cannot read.
const (
	hdrWire   = "Forkless-Wire"   // WireVersion, decimal
	hdrReply  = "Forkless-Reply"  // the caller's result subject
	hdrTask   = "Forkless-Task"   // the task id, decimal
	hdrReject = "Forkless-Reject" // on a result: the whole task failed (reject kind)
	hdrText   = "Forkless-Text"   // on a reject: why, in words
)

// chunk is one task on the wire: items of one job, run by one node.
type chunk struct {
	Job      uint64    // the job's id within its caller
	Task     uint64    // the task's id within its caller: what results name
	Func     string    // the registered function's name
	Codec    string    // the codec the function's values travel through (informational)
	Deadline time.Time // zero: none; after it the node fails the items with ErrDeadline
	Base     int       // deliveries before this message (retries republish with a higher base)
	Items    []item
}

// item is one argument or one result.
type item struct {
	Index  int // the item's index in its job
	Status uint8
	Data   []byte // argument, result, or a failure's JSON (see Status)
}

// Item status on a result.
const (
	statusOK     = 0 // Data is the encoded result
	statusFailed = 1 // Data is a failure's JSON
)

// appendString appends s with its uvarint length.
func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendChunk appends c's encoding (its items included) to dst.
func appendChunk(dst []byte, c *chunk) []byte {
	dst = appendChunkHead(dst, c)
	dst = binary.AppendUvarint(dst, uint64(len(c.Items)))
	for _, it := range c.Items {
		dst = binary.AppendUvarint(dst, uint64(it.Index))
		dst = binary.AppendUvarint(dst, uint64(len(it.Data)))
		dst = append(dst, it.Data...)
	}
	return dst
}

// appendChunkHead appends everything of c before its item count.
func appendChunkHead(dst []byte, c *chunk) []byte {
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, c.Job)
	dst = binary.AppendUvarint(dst, c.Task)
	dst = appendString(dst, c.Func)
	dst = appendString(dst, c.Codec)
	var dl int64
	if !c.Deadline.IsZero() {
		dl = c.Deadline.UnixNano()
	}
	dst = binary.AppendVarint(dst, dl)
	return binary.AppendUvarint(dst, uint64(c.Base))
}

// reader reads the wire format, remembering the first error: every read
// after it returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("decode %s: %w", what, ErrMalformed)
	}
}

func (r *reader) uvarint(what string, limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte(what string) byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// bytes reads a length-prefixed field; it aliases the input.
func (r *reader) bytes(what string, limit uint64) []byte {
	n := r.uvarint(what, limit)
	if r.err == nil && n > uint64(len(r.b)) { // checked after the length's own bytes are read
		r.fail(what)
	}
	if r.err != nil {
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string(what string) string { return string(r.bytes(what, maxName)) }

// version reads and checks the version byte.
func (r *reader) version() {
	if v := r.byte("version"); r.err == nil && v != WireVersion {
		r.err = fmt.Errorf("wire version %d, this process speaks %d: %w", v, WireVersion, ErrWireVersion)
	}
}

// count reads an item count, bounded by what the rest of the input can
// hold (every item takes at least minSize bytes).
func (r *reader) count(minSize int) int {
	return int(r.uvarint("item count", min(uint64(maxItems), uint64(len(r.b)/minSize))))
}

// parseChunk decodes a chunk. Its items' Data alias b.
func parseChunk(b []byte) (*chunk, error) {
	r := reader{b: b}
	r.version()
	c := &chunk{}
	c.Job = r.uvarint("job", 1<<63)
	c.Task = r.uvarint("task", 1<<63)
	c.Func = r.string("function")
	c.Codec = r.string("codec")
	if dl := r.varint("deadline"); dl != 0 {
		c.Deadline = time.Unix(0, dl)
	}
	c.Base = int(r.uvarint("attempts", maxAttempt))
	n := r.count(2)
	if r.err != nil {
		return nil, r.err
	}
	c.Items = make([]item, n)
	for i := range c.Items {
		c.Items[i].Index = int(r.uvarint("index", 1<<62))
		c.Items[i].Data = r.bytes("argument", 1<<40)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("chunk: trailing bytes")
	}
	if c.Func == "" {
		r.fail("chunk: empty function name")
	}
	return c, r.err
}

// results is one result message: some items of one task, from one node.
type results struct {
	Task  uint64
	Node  string
	Items []item
}

func appendResults(dst []byte, rs *results) []byte {
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, rs.Task)
	dst = appendString(dst, rs.Node)
	dst = binary.AppendUvarint(dst, uint64(len(rs.Items)))
	for _, it := range rs.Items {
		dst = binary.AppendUvarint(dst, uint64(it.Index))
		dst = append(dst, it.Status)
		dst = binary.AppendUvarint(dst, uint64(len(it.Data)))
		dst = append(dst, it.Data...)
	}
	return dst
}

// parseResults decodes a result message. Its items' Data alias b.
func parseResults(b []byte) (*results, error) {
	r := reader{b: b}
	r.version()
	rs := &results{}
	rs.Task = r.uvarint("task", 1<<63)
	rs.Node = r.string("node")
	n := r.count(3)
	if r.err != nil {
		return nil, r.err
	}
	rs.Items = make([]item, n)
	for i := range rs.Items {
		it := &rs.Items[i]
		it.Index = int(r.uvarint("index", 1<<62))
		it.Status = r.byte("status")
		if r.err == nil && it.Status > statusFailed {
			r.fail("status")
		}
		it.Data = r.bytes("result", 1<<40)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("results: trailing bytes")
	}
	return rs, r.err
}
