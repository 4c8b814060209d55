package spawn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/forkless-go/forkless/internal/wire"
)

// The parent and the child talk over two pipes:
//
//	request  (parent -> child, fd 3), one frame:
//	    "FLSQ" version:u8 token:[16]u8 func:bytes arg:bytes nregions:uvarint
//	    name:bytes identity:bytes parentName:bytes parentPid:uvarint
//	    parentStart:uvarint flags:uvarint termGrace:uvarint (nanoseconds)
//	    nfiles:uvarint logLevel:varint (with flagLogs: the lowest level to forward)
//	response (child -> parent, fd 4), two frames:
//	    "FLSA"                      the child attached every region and found
//	                                its function, and is about to call it
//	    "FLSR" status:u8 then
//	        statusOK:               result:bytes
//	        any other status:       an error body (wire.ErrorBody): message:bytes
//	                                type:bytes stack:bytes nkeys:uvarint key:bytes...
//
// where bytes is a uvarint length and that many bytes, and the keys name the
// registered sentinel errors found in the child's error (see RegisterError).
// A setup failure (statusSetup, statusNotRegistered) comes without "FLSA".
//
// The token is random, new for each child, and also the value of the
// child's FORKLESS_SPAWN_CHILD variable: a process is a child only when
// its fd 3 starts with the token its variable names (child.go). The parent
// writes the frame's header (magic, version, token) into the pipe before
// the child starts, so the child reads it without waiting, and a variable
// that leaked into another program's environment meets an fd 3 that is
// closed, silent or wrong: a clear error at once, never a hang.
// The regions the parent shares follow the two pipes as fds 5, 6, ...
//
// The parent keeps the request pipe open for the child's whole life: its EOF
// tells the child that the parent died, even where Pdeathsig did not fire
// (sys_linux.go says why Pdeathsig alone is not enough; each of the two
// suffices, and the tests prove each alone). A child inherits exactly:
//
//	fd 0-2   stdin, stdout, stderr (inherited, or pipes for Stdout/Stderr/Prefix)
//	fd 3     request pipe, parent -> child: one frame, then held open (EOF = parent died)
//	fd 4     response pipe, child -> parent: "FLSA" once attached, then the result frame
//	fd 5...  the shared regions, in the order given to Share (then those the argument's objects name)
//	then     the argument's files, connections and listeners (nfiles), in order
//	then     with flagLogs, the log pipe: one record a frame (logs.go)
//
// Every length is bounded before anything is allocated, and fuzz tests feed
// the parsers garbage.
const (
	protocolVersion = 5
	requestMagic    = "FLSQ"
	attachedMagic   = "FLSA"
	responseMagic   = "FLSR"

	tokenLen  = 16
	headerLen = len(requestMagic) + 1 + tokenLen // magic, version, token

	fdRequest     = 3
	fdResponse    = 4
	fdFirstRegion = 5

	statusOK            = 0
	statusError         = 1
	statusPanic         = 2
	statusSetup         = 3 // a region could not be attached
	statusNotRegistered = 4 // the child does not know the function

	flagDaemon      = 1 << 0
	flagNoWatchPipe = 1 << 1 // tests only: prove Pdeathsig alone
	flagLogs        = 1 << 2 // forward the child's log/slog records (ForwardLogs)

	maxFrameField = 1 << 30 // a larger field is a corrupt frame, not a big argument
	maxErrorBody  = 4 * maxFrameField
	maxRegions    = 1 << 16
	maxFiles      = 1 << 16
)

var errFrame = errors.New("malformed frame")

type request struct {
	token       [tokenLen]byte // the child's marker: see above
	fn          string
	arg         []byte
	nRegions    int
	name        string // the child's process name
	identity    string // "1:3": the child's place in the process tree
	parentName  string
	parentPid   int
	parentStart uint64
	flags       uint64
	termGrace   time.Duration // how long a SIGTERM gives the function before it ends the child
	nFiles      int           // descriptors of the argument, after the regions
	logLevel    int64         // with flagLogs: the lowest slog level the parent handles
}

type response struct {
	status byte
	result []byte         // statusOK
	err    wire.ErrorBody // any other status
}

var (
	appendBytes  = wire.AppendBytes
	appendString = wire.AppendString
)

func (q request) marshal() []byte {
	b := make([]byte, 0, 64+len(q.fn)+len(q.arg)+len(q.name)+len(q.parentName))
	b = append(b, requestMagic...)
	b = append(b, protocolVersion)
	b = append(b, q.token[:]...)
	b = appendString(b, q.fn)
	b = appendBytes(b, q.arg)
	b = binary.AppendUvarint(b, uint64(q.nRegions))
	b = appendString(b, q.name)
	b = appendString(b, q.identity)
	b = appendString(b, q.parentName)
	b = binary.AppendUvarint(b, uint64(q.parentPid))
	b = binary.AppendUvarint(b, q.parentStart)
	b = binary.AppendUvarint(b, q.flags)
	b = binary.AppendUvarint(b, uint64(q.termGrace))
	b = binary.AppendUvarint(b, uint64(q.nFiles))
	return binary.AppendVarint(b, q.logLevel)
}

func (p response) marshal() []byte {
	b := append([]byte(responseMagic), p.status)
	if p.status == statusOK {
		return appendBytes(b, p.result)
	}
	return wire.AppendErrorBody(b, p.err)
}

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxFrameField {
		return nil, fmt.Errorf("field of %d bytes: %w", n, errFrame)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

func readString(r *bufio.Reader) (string, error) {
	b, err := readBytes(r)
	return string(b), err
}

func readMagic(r *bufio.Reader, want string) error {
	var m [4]byte
	if _, err := io.ReadFull(r, m[:]); err != nil {
		return err
	}
	if string(m[:]) != want {
		return fmt.Errorf("magic %q, want %q: %w", m[:], want, errFrame)
	}
	return nil
}

func readUvarint(r *bufio.Reader, limit uint64) (uint64, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("value %d over %d: %w", n, limit, errFrame)
	}
	return n, nil
}

func readRequest(r *bufio.Reader) (request, error) {
	var q request
	if err := readMagic(r, requestMagic); err != nil {
		return q, fmt.Errorf("read request: %w", err)
	}
	v, err := r.ReadByte()
	if err != nil {
		return q, fmt.Errorf("read request: %w", err)
	}
	if v != protocolVersion {
		return q, fmt.Errorf("read request: protocol version %d, want %d: %w", v, protocolVersion, errFrame)
	}
	if _, err := io.ReadFull(r, q.token[:]); err != nil {
		return q, fmt.Errorf("read request: %w", err)
	}
	var n, pid, grace, nFiles uint64
	steps := []func() error{
		func() (err error) { q.fn, err = readString(r); return },
		func() (err error) { q.arg, err = readBytes(r); return },
		func() (err error) { n, err = readUvarint(r, maxRegions); return },
		func() (err error) { q.name, err = readString(r); return },
		func() (err error) { q.identity, err = readString(r); return },
		func() (err error) { q.parentName, err = readString(r); return },
		func() (err error) { pid, err = readUvarint(r, 1<<31); return },
		func() (err error) { q.parentStart, err = binary.ReadUvarint(r); return },
		func() (err error) { q.flags, err = binary.ReadUvarint(r); return },
		func() (err error) { grace, err = readUvarint(r, math.MaxInt64); return },
		func() (err error) { nFiles, err = readUvarint(r, maxFiles); return },
		func() (err error) { q.logLevel, err = binary.ReadVarint(r); return },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return q, fmt.Errorf("read request: %w", err)
		}
	}
	q.nRegions, q.parentPid, q.termGrace, q.nFiles = int(n), int(pid), time.Duration(grace), int(nFiles)
	return q, nil
}

func readResponse(r *bufio.Reader) (response, error) {
	var p response
	if err := readMagic(r, responseMagic); err != nil {
		return p, fmt.Errorf("read response: %w", err)
	}
	s, err := r.ReadByte()
	if err != nil {
		return p, fmt.Errorf("read response: %w", err)
	}
	p.status = s
	switch s {
	case statusOK:
		if p.result, err = readBytes(r); err != nil {
			return p, fmt.Errorf("read response: %w", err)
		}
		return p, nil
	case statusError, statusPanic, statusSetup, statusNotRegistered:
	default:
		return p, fmt.Errorf("read response: status %d: %w", s, errFrame)
	}
	// The error body is the last thing the child writes before it closes
	// the pipe: read it whole, then parse it with the bounds-checked reader
	// the pool's records use too.
	body, err := io.ReadAll(io.LimitReader(r, maxErrorBody))
	if err != nil {
		return p, fmt.Errorf("read response: %w", err)
	}
	br := wire.NewReader(body, errFrame)
	p.err = br.ErrorBody()
	if err := br.Err(); err != nil {
		return p, fmt.Errorf("read response: %w", err)
	}
	p.err.Panicked = s == statusPanic
	return p, nil
}
