package spawn

import (
	"bytes"
	"io"
	"os"
	"reflect"
	"sync"
)

// A child's output sent to an io.Writer that is not a file (Stdout, Stderr,
// Prefix) is copied by a goroutine of this process, one per stream and
// child. Several children often share one writer (a *bytes.Buffer, the
// pool's workers through WorkerOptions), and most writers are not safe for
// concurrent use: each stream goes through a lineWriter, which writes whole
// lines only, under a lock kept per writer value. So lines of different
// children never mix and none is lost, whatever the writer; writes the
// program makes to the same writer itself are not serialised with them.

// writerLock serialises the lineWriters of one destination writer.
type writerLock struct {
	mu   sync.Mutex
	refs int // lineWriters using it; guarded by writerLocksMu
}

var (
	writerLocksMu sync.Mutex
	writerLocks   = map[any]*writerLock{}
	// uncomparable is the lock of writers that cannot be map keys (a
	// struct holding a slice, say): they share it, and are still safe.
	uncomparable writerLock
)

// acquireWriterLock returns the lock of dst, held until releaseWriterLock.
func acquireWriterLock(dst io.Writer) *writerLock {
	if !reflect.ValueOf(dst).Comparable() {
		return &uncomparable
	}
	writerLocksMu.Lock()
	defer writerLocksMu.Unlock()
	l := writerLocks[dst]
	if l == nil {
		l = new(writerLock)
		writerLocks[dst] = l
	}
	l.refs++
	return l
}

// releaseWriterLock drops a use of dst's lock, and the lock with its last.
func releaseWriterLock(dst io.Writer, l *writerLock) {
	if l == &uncomparable {
		return
	}
	writerLocksMu.Lock()
	defer writerLocksMu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(writerLocks, dst)
	}
}

// maxPending bounds the unfinished line a lineWriter holds: a longer one
// is written in pieces, so a child writing without newlines cannot make
// this process hold its whole output.
const maxPending = 64 << 10

// lineWriter writes each complete line it is given to dst, with a prefix,
// under dst's lock; an unfinished last line waits for the next newline or
// for flush.
type lineWriter struct {
	dst     io.Writer
	prefix  []byte
	newline bool // flush ends an unfinished line with a newline (Prefix)
	lock    *writerLock
	mu      sync.Mutex // guards buf, out and done
	buf     []byte     // the unfinished line
	out     []byte     // scratch for the lines of one Write
	done    bool       // flushed: the lock is released
}

func newLineWriter(dst io.Writer, prefix string, newline bool) *lineWriter {
	return &lineWriter{dst: dst, prefix: []byte(prefix), newline: newline, lock: acquireWriterLock(dst)}
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(b)
	out := w.out[:0]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.buf = append(w.buf, b...)
			if len(w.buf) >= maxPending { // too long to hold: out it goes, as it is
				out = append(out, w.prefix...)
				out = append(out, w.buf...)
				w.buf = w.buf[:0]
			}
			break
		}
		out = append(out, w.prefix...)
		out = append(out, w.buf...)
		out = append(out, b[:i+1]...)
		w.buf = w.buf[:0]
		b = b[i+1:]
	}
	w.out = out[:0]
	if len(out) == 0 || w.done {
		return n, nil
	}
	w.lock.mu.Lock()
	_, err := w.dst.Write(out)
	w.lock.mu.Unlock()
	return n, err
}

// flush writes an unfinished last line, with a newline when w adds one,
// and releases dst's lock. Writes after it are dropped.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	if len(w.buf) > 0 {
		out := append(append([]byte{}, w.prefix...), w.buf...)
		if w.newline {
			out = append(out, '\n')
		}
		w.buf = nil
		w.lock.mu.Lock()
		w.dst.Write(out)
		w.lock.mu.Unlock()
	}
	releaseWriterLock(w.dst, w.lock)
}

// outputs picks the child's standard output and error. A writer other than
// a file gets a lineWriter (output.go), flushed when the child is gone.
// Called with p.mu held.
func (p *Process[R]) outputs() (stdout, stderr io.Writer) {
	o := p.opts
	stdout, stderr = os.Stdout, os.Stderr
	if o.prefix != nil {
		prefix := *o.prefix
		if prefix == "" {
			prefix = "[" + p.name + "] "
		}
		if o.stdout == nil {
			stdout = p.lineWriter(os.Stdout, prefix, true)
		}
		if o.stderr == nil {
			stderr = p.lineWriter(os.Stderr, prefix, true)
		}
	}
	if o.stdout != nil {
		stdout = p.capture(o.stdout)
	}
	switch {
	case o.stderr == nil:
	case o.stdout != nil && sameWriter(o.stderr, o.stdout):
		stderr = stdout // one pipe: the child's order of the two streams is kept
	default:
		stderr = p.capture(o.stderr)
	}
	return stdout, stderr
}

// capture is w for the child's output: a file as it is (the child writes
// to it directly), any other writer through a lineWriter.
func (p *Process[R]) capture(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return p.lineWriter(w, "", false)
}

func (p *Process[R]) lineWriter(dst io.Writer, prefix string, newline bool) *lineWriter {
	lw := newLineWriter(dst, prefix, newline)
	p.flushes = append(p.flushes, lw.flush)
	return lw
}

// flushOutputs flushes the child's lineWriters, which releases their
// writers' locks. Called with p.mu held, once the child is gone or did not
// start.
func (p *Process[R]) flushOutputs() {
	for _, f := range p.flushes {
		f()
	}
	p.flushes = nil
}

// sameWriter reports whether a and b are the same writer value.
func sameWriter(a, b io.Writer) bool {
	return reflect.ValueOf(a).Comparable() && reflect.ValueOf(b).Comparable() && a == b
}
