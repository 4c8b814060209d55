package spawn

import (
	"bytes"
	"io"
	"sync"
)

// outputMu serializes the lines that prefix writers write, so lines of
// different children never interleave mid-line.
var outputMu sync.Mutex

// prefixWriter writes each complete line it is given to dst with a prefix;
// a last line without a newline waits for flush.
type prefixWriter struct {
	dst    io.Writer
	prefix []byte
	mu     sync.Mutex
	buf    []byte // the unfinished line
}

func newPrefixWriter(dst io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{dst: dst, prefix: []byte(prefix)}
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	var out []byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			break
		}
		out = append(out, w.prefix...)
		out = append(out, w.buf...)
		out = append(out, b[:i+1]...)
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	if len(out) > 0 {
		outputMu.Lock()
		_, err := w.dst.Write(out)
		outputMu.Unlock()
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// flush writes an unfinished last line, with a newline.
func (w *prefixWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return
	}
	out := append(append(append([]byte{}, w.prefix...), w.buf...), '\n')
	w.buf = w.buf[:0]
	outputMu.Lock()
	w.dst.Write(out)
	outputMu.Unlock()
}
