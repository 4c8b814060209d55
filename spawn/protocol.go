package spawn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The parent and the child talk over two pipes, each carrying one frame:
//
//	request  (parent -> child, fd 3):  "FLSQ" version:u8 name:bytes arg:bytes nregions:uvarint
//	response (child -> parent, fd 4):  "FLSR" status:u8 then
//	                                    statusOK:    result:bytes
//	                                    statusError: message:bytes
//	                                    statusPanic: message:bytes stack:bytes
//
// where bytes is a uvarint length and that many bytes. The regions the
// parent shares follow the two pipes as fds 5, 6, ...; a child attaches
// them all before running its function. The parent keeps the request pipe
// open for the child's whole life: its EOF tells the child that the parent
// died.
const (
	protocolVersion = 1
	requestMagic    = "FLSQ"
	responseMagic   = "FLSR"

	fdRequest     = 3
	fdResponse    = 4
	fdFirstRegion = 5

	statusOK    = 0
	statusError = 1
	statusPanic = 2

	maxFrameField = 1 << 30 // a larger field is a corrupt frame, not a big argument
)

var errFrame = errors.New("malformed frame")

type request struct {
	name     string
	arg      []byte
	nRegions int
}

type response struct {
	status  byte
	result  []byte
	message string
	stack   string
}

func appendBytes(b, field []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

func (q request) marshal() []byte {
	b := append([]byte(requestMagic), protocolVersion)
	b = appendBytes(b, []byte(q.name))
	b = appendBytes(b, q.arg)
	return binary.AppendUvarint(b, uint64(q.nRegions))
}

func (p response) marshal() []byte {
	b := append([]byte(responseMagic), p.status)
	switch p.status {
	case statusOK:
		b = appendBytes(b, p.result)
	case statusError:
		b = appendBytes(b, []byte(p.message))
	case statusPanic:
		b = appendBytes(b, []byte(p.message))
		b = appendBytes(b, []byte(p.stack))
	}
	return b
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
	name, err := readBytes(r)
	if err != nil {
		return q, fmt.Errorf("read request name: %w", err)
	}
	if q.arg, err = readBytes(r); err != nil {
		return q, fmt.Errorf("read request argument: %w", err)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<16 {
		return q, fmt.Errorf("read request regions: %v: %w", err, errFrame)
	}
	q.name, q.nRegions = string(name), int(n)
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
		p.result, err = readBytes(r)
	case statusError:
		var m []byte
		m, err = readBytes(r)
		p.message = string(m)
	case statusPanic:
		var m, st []byte
		if m, err = readBytes(r); err == nil {
			st, err = readBytes(r)
		}
		p.message, p.stack = string(m), string(st)
	default:
		err = fmt.Errorf("status %d: %w", s, errFrame)
	}
	if err != nil {
		return p, fmt.Errorf("read response: %w", err)
	}
	return p, nil
}
