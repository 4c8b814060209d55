package spawn

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/forkless-go/forkless/internal/wire"
)

// ForwardLogs sends the child's log/slog records (and the standard log
// package's lines, which go through slog's default logger) to h in this
// process, each with the child's process name ("process") and pid ("pid")
// as attributes: Python's QueueHandler pattern in one option. nil means
// slog.Default().Handler() at Start. In the child, slog.Default() writes
// to a pipe to this process, one record at a time: the records of one
// child arrive in the order it logged them, and none is lost when it
// exits normally (Wait returns after the last one was handled). Records
// below the lowest level h is enabled for are dropped in the child.
// Grandchildren forward to their parent's default logger only with
// ForwardLogs of their own.
func ForwardLogs(h slog.Handler) Option {
	return func(o *options) { o.logs, o.logsTo = true, h }
}

// openLogPipe makes the log pipe of a child started with ForwardLogs and
// says so in q; without ForwardLogs it returns nil files.
func (p *Process[R]) openLogPipe(q *request) (r, w *os.File, err error) {
	if !p.opts.logs {
		return nil, nil, nil
	}
	if p.opts.logsTo == nil {
		p.opts.logsTo = slog.Default().Handler()
	}
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, err
	}
	q.flags |= flagLogs
	q.logLevel = int64(logLevelOf(p.opts.logsTo))
	return r, w, nil
}

// noLogs is the logsDone of a child that forwards no logs: closed.
var noLogs = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// logLevelOf is the lowest level h handles, probed among slog's four.
func logLevelOf(h slog.Handler) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if h.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError + 1
}

// readLogs hands the records the child sends on r to h, until EOF or the
// read deadline reap sets when the child exits.
func readLogs(r *os.File, h slog.Handler, name string, pid int) {
	defer r.Close()
	h = h.WithAttrs([]slog.Attr{slog.String("process", name), slog.Int("pid", pid)})
	br := bufio.NewReader(r)
	for {
		frame, err := readBytes(br)
		if err != nil {
			io.Copy(io.Discard, br)
			return
		}
		rd := wire.NewReader(frame, errFrame)
		rec := slog.NewRecord(time.Unix(0, int64(rd.Uvarint(math.MaxInt64))), slog.Level(int64(rd.Uvarint(math.MaxUint32))-1<<16), rd.String(), 0)
		n := rd.Uvarint(1 << 16)
		for range n {
			k, kind, v := rd.String(), rd.Byte(), rd.String()
			rec.AddAttrs(attrOf(k, kind, v))
		}
		if rd.Err() == nil {
			h.Handle(context.Background(), rec)
		}
	}
}

// Attribute kinds on the log pipe: values travel as text, typed again on
// arrival where slog has the kind.
const (
	attrString = iota
	attrInt
	attrFloat
	attrBool
	attrDuration
	attrTime
)

func attrOf(k string, kind byte, v string) slog.Attr {
	var a slog.Attr
	var err error
	switch kind {
	case attrInt:
		var n int64
		_, err = fmt.Sscan(v, &n)
		a = slog.Int64(k, n)
	case attrFloat:
		var f float64
		_, err = fmt.Sscan(v, &f)
		a = slog.Float64(k, f)
	case attrBool:
		a = slog.Bool(k, v == "true")
	case attrDuration:
		var d time.Duration
		d, err = time.ParseDuration(v)
		a = slog.Duration(k, d)
	case attrTime:
		var t time.Time
		t, err = time.Parse(time.RFC3339Nano, v)
		a = slog.Time(k, t)
	}
	if kind == attrString || err != nil {
		a = slog.String(k, v)
	}
	return a
}

// forwardLogs, in a child, makes slog's default logger write to the log
// pipe w.
func forwardLogs(w *os.File, q request) {
	h := &pipeHandler{out: &pipeOut{w: w}, level: slog.Level(q.logLevel)}
	slog.SetDefault(slog.New(h))
}

type pipeOut struct {
	mu sync.Mutex
	w  *os.File
}

// pipeHandler is a child's slog handler: one frame per record on the pipe.
type pipeHandler struct {
	out    *pipeOut
	level  slog.Level
	attrs  []byte // encoded attributes from WithAttrs
	nattrs int
	prefix string // groups from WithGroup, "a.b."
}

func (h *pipeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *pipeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]byte(nil), h.attrs...)
	for _, a := range as {
		c.attrs, c.nattrs = appendAttr(c.attrs, c.nattrs, h.prefix, a)
	}
	return &c
}

func (h *pipeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix += name + "."
	return &c
}

func (h *pipeHandler) Handle(_ context.Context, r slog.Record) error {
	attrs, n := append([]byte(nil), h.attrs...), h.nattrs
	r.Attrs(func(a slog.Attr) bool {
		attrs, n = appendAttr(attrs, n, h.prefix, a)
		return true
	})
	b := binary.AppendUvarint(nil, uint64(r.Time.UnixNano()))
	b = binary.AppendUvarint(b, uint64(int64(r.Level)+1<<16))
	b = wire.AppendString(b, r.Message)
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, attrs...)
	frame := wire.AppendBytes(nil, b)
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(frame)
	return err
}

// appendAttr appends a's encoding (groups flattened to "group.key").
func appendAttr(b []byte, n int, prefix string, a slog.Attr) ([]byte, int) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			b, n = appendAttr(b, n, p, g)
		}
		return b, n
	}
	if a.Key == "" {
		return b, n
	}
	kind := byte(attrString)
	switch v.Kind() {
	case slog.KindInt64, slog.KindUint64:
		kind = attrInt
	case slog.KindFloat64:
		kind = attrFloat
	case slog.KindBool:
		kind = attrBool
	case slog.KindDuration:
		kind = attrDuration
	case slog.KindTime:
		kind = attrTime
	}
	text := v.String()
	if kind == attrTime {
		text = v.Time().Format(time.RFC3339Nano)
	}
	b = wire.AppendString(b, prefix+a.Key)
	b = append(b, kind)
	return wire.AppendString(b, text), n + 1
}

// logFds is how many log pipes the child inherits: one with ForwardLogs.
func logFds(q request) int {
	if q.flags&flagLogs != 0 {
		return 1
	}
	return 0
}
