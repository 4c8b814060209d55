package queue_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forkless-go/forkless/queue"
	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
)

// benchArg drives one side of a cross-process benchmark.
type qBenchArg struct {
	Q     shm.Handle // queue (or pipe end)
	Gate  shm.Handle // Value[[4]atomic.Uint64]: ready count, go flag, done count
	N     uint64     // messages for this child
	Size  uint64
	Path  [108]byte // unix socket or fifo path
	Batch uint64
}

func qPath(p string) (b [108]byte) {
	copy(b[:], p)
	return b
}

func qPathString(b [108]byte) string {
	s := string(b[:])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

type qGate = [4]atomic.Uint64

// gateIn announces a child ready and waits for the parent's go.
func gateIn(h shm.Handle) (*qGate, error) {
	v, err := shm.OpenValue[qGate](h)
	if err != nil {
		return nil, err
	}
	g := v.Ptr()
	g[0].Add(1)
	for g[1].Load() == 0 {
		time.Sleep(10 * time.Microsecond)
	}
	return g, nil
}

var qBenchProducer = spawn.Register("queue.qBenchProducer", func(ctx context.Context, a qBenchArg) (struct{}, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return struct{}{}, err
	}
	msg := make([]byte, a.Size)
	if _, err := gateIn(a.Gate); err != nil {
		return struct{}{}, err
	}
	for i := range a.N {
		msg[0] = byte(i)
		if err := q.Put(ctx, msg); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

var qBenchConsumer = spawn.Register("queue.qBenchConsumer", func(ctx context.Context, a qBenchArg) (uint64, error) {
	q, err := queue.Open(a.Q)
	if err != nil {
		return 0, err
	}
	if _, err := gateIn(a.Gate); err != nil {
		return 0, err
	}
	buf := make([]byte, 0, a.Size)
	var n uint64
	for a.Batch == 1 { // zero-copy: read in place
		m, err := q.Take(ctx)
		if errors.Is(err, queue.ErrClosed) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		m.Release()
	}
	for {
		m, err := q.AppendGet(ctx, buf[:0])
		if errors.Is(err, queue.ErrClosed) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		buf = m
	}
})

// qStreamWriter writes N fixed-size messages to a unix socket or a fifo.
var qStreamWriter = spawn.Register("queue.qStreamWriter", func(ctx context.Context, a qBenchArg) (struct{}, error) {
	path := qPathString(a.Path)
	var w io.WriteCloser
	var err error
	if strings.HasSuffix(path, ".sock") {
		w, err = net.Dial("unix", path)
	} else {
		w, err = os.OpenFile(path, os.O_WRONLY, 0)
	}
	if err != nil {
		return struct{}{}, err
	}
	defer w.Close()
	if _, err := gateIn(a.Gate); err != nil {
		return struct{}{}, err
	}
	msg := make([]byte, a.Size)
	for range a.N {
		if _, err := w.Write(msg); err != nil {
			return struct{}{}, err
		}
	}
	return struct{}{}, nil
})

// qRunChildren starts children, opens the gate once all are ready, and
// returns when the parent's own part (consume) is done and the children
// have exited. The benchmark timer covers the gated part only.
func qGateNew(b *testing.B, r *shm.Region) *shm.Value[qGate] {
	g, err := shm.NewValue[qGate](r)
	if err != nil {
		b.Fatal(err)
	}
	return g
}

func qGateOpen(b *testing.B, g *shm.Value[qGate], children int) {
	deadline := time.Now().Add(20 * time.Second)
	for g.Ptr()[0].Load() < uint64(children) {
		if time.Now().After(deadline) {
			b.Fatal("children never got ready")
		}
		time.Sleep(50 * time.Microsecond)
	}
	b.ResetTimer()
	g.Ptr()[1].Store(1)
}

func benchQueueForkless(b *testing.B, producers, consumers int, size int) {
	benchQueueForklessRing(b, producers, consumers, size, 1<<20)
}

func benchQueueForklessRing(b *testing.B, producers, consumers int, size, ringBytes int) {
	benchQueueForklessMode(b, producers, consumers, size, ringBytes, false)
}

// benchQueueForklessMode: take selects Take/Release (zero-copy) in the
// consumers instead of AppendGet.
func benchQueueForklessMode(b *testing.B, producers, consumers int, size, ringBytes int, take bool) {
	benchQueueConfig(b, producers, consumers, size, int64(ringBytes)+4<<20, queue.Config{Bytes: ringBytes}, take)
}

// benchQueueConfig is benchQueueForklessMode with a queue of configuration
// c in a region of regionBytes.
func benchQueueConfig(b *testing.B, producers, consumers int, size int, regionBytes int64, c queue.Config, take bool) {
	ctx := context.Background()
	r, err := shm.New(regionBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	q, err := queue.New(r, c)
	if err != nil {
		b.Fatal(err)
	}
	gate := qGateNew(b, r)
	n := uint64(b.N)
	var prods []*spawn.Process[struct{}]
	var cons []*spawn.Process[uint64]
	for i := range consumers {
		_ = i
		a := qBenchArg{Q: q.Handle(), Gate: gate.Handle(), Size: uint64(size)}
		if take {
			a.Batch = 1
		}
		p, err := qBenchConsumer.Start(ctx, a, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		cons = append(cons, p)
	}
	for i := range producers {
		share := n / uint64(producers)
		if i == 0 {
			share += n % uint64(producers)
		}
		p, err := qBenchProducer.Start(ctx, qBenchArg{Q: q.Handle(), Gate: gate.Handle(), N: share, Size: uint64(size)}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		prods = append(prods, p)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	qGateOpen(b, gate, producers+consumers)
	start := time.Now()
	for _, p := range prods {
		if _, err := p.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	q.Close()
	var got uint64
	for _, p := range cons {
		c, err := p.Wait(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got += c
	}
	el := time.Since(start)
	b.StopTimer()
	if got != n {
		b.Fatalf("received %d of %d", got, n)
	}
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/msg")
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
}

// benchStream: children write b.N fixed-size messages to a unix socket or a
// fifo (os.Pipe between processes), the parent reads them one by one.
func benchStream(b *testing.B, kind string, producers int, size int) {
	ctx := context.Background()
	r, err := shm.New(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	gate := qGateNew(b, r)
	dir := b.TempDir()
	n := uint64(b.N)
	var readers []io.Reader
	var ln net.Listener
	var path string
	switch kind {
	case "unixsocket":
		path = filepath.Join(dir, "b.sock")
		ln, err = net.Listen("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
	case "ospipe":
		path = filepath.Join(dir, "b.fifo")
		if err := mkfifo(path); err != nil {
			b.Skip("no fifo:", err)
		}
	}
	var prods []*spawn.Process[struct{}]
	for i := range producers {
		share := n / uint64(producers)
		if i == 0 {
			share += n % uint64(producers)
		}
		p, err := qStreamWriter.Start(ctx, qBenchArg{Gate: gate.Handle(), N: share, Size: uint64(size), Path: qPath(path)}, spawn.Share(r))
		if err != nil {
			b.Fatal(err)
		}
		prods = append(prods, p)
		if ln != nil {
			c, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			readers = append(readers, c)
		}
	}
	if kind == "ospipe" {
		f, err := os.Open(path) // one fifo; writers' 64-byte writes are atomic
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		readers = append(readers, f)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	qGateOpen(b, gate, producers)
	start := time.Now()
	var got atomic.Uint64
	errc := make(chan error, len(readers))
	for _, rd := range readers {
		go func() {
			buf := make([]byte, size)
			for {
				if _, err := io.ReadFull(rd, buf); err != nil {
					if err == io.EOF {
						err = nil
					}
					errc <- err
					return
				}
				got.Add(1)
			}
		}()
	}
	for _, p := range prods {
		if _, err := p.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for range readers {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	if got.Load() != n {
		b.Fatalf("received %d of %d", got.Load(), n)
	}
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/msg")
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
}

// pythonFigure runs a script from bench/python and returns the figure it
// prints on its last line, "NAME VALUE".
func pythonFigure(b *testing.B, script string, args ...string) float64 {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found")
	}
	path := filepath.Join("..", "bench", "python", script)
	if _, err := os.Stat(path); err != nil {
		b.Skip("no", path)
	}
	out, err := exec.Command(py, append([]string{path}, args...)...).Output()
	if err != nil {
		b.Fatalf("%s: %v", script, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	v, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil {
		b.Fatalf("%s printed %q", script, lines[len(lines)-1])
	}
	return v
}

// BenchmarkQueue moves 64-byte messages between processes: forkless Queue,
// a unix socket and a fifo (os.Pipe) carrying the same messages, and
// Python's Queue and SimpleQueue.
func BenchmarkQueue(b *testing.B) {
	for _, mode := range []struct {
		name string
		p, c int
	}{{"1p1c", 1, 1}, {"2p2c", 2, 2}} {
		b.Run("impl=forkless/mode="+mode.name+"/size=64", func(b *testing.B) {
			benchQueueForkless(b, mode.p, mode.c, 64)
		})
		if mode.c == 1 {
			b.Run("impl=unixsocket/mode="+mode.name+"/size=64", func(b *testing.B) { benchStream(b, "unixsocket", mode.p, 64) })
			b.Run("impl=ospipe/mode="+mode.name+"/size=64", func(b *testing.B) { benchStream(b, "ospipe", mode.p, 64) })
		}
		for _, impl := range []string{"Queue", "SimpleQueue"} {
			b.Run("impl=python"+impl+"/mode="+mode.name+"/size=64", func(b *testing.B) {
				// The script times itself; b.N only sizes its run. Below a
				// floor the figure would be one message's start-up, so
				// every run moves at least 20000.
				n := min(max(b.N, 20000), 200000)
				ns := pythonFigure(b, "ring_queue_mp.py", impl, strconv.Itoa(mode.p), strconv.Itoa(mode.c), "64", strconv.Itoa(n))
				b.ReportMetric(ns, "ns/msg")
				b.ReportMetric(1e9/ns, "msgs/s")
			})
		}
	}
	// Many producers, one consumer (issue 14's scaling goal: at least 70%
	// of 1p1c): forkless only.
	b.Run("impl=forkless/mode=4p1c/size=64", func(b *testing.B) { benchQueueForkless(b, 4, 1, 64) })
}

// BenchmarkQueueSpill: 1P1C between processes, 1 MiB messages through a
// 64 KiB ring, so each spills: into the default spill area (64 MiB
// region: a 16 MiB area, blocks of 4 MiB) or into a /dev/shm file
// (Spill -1), against the same messages inline in an 8 MiB ring.
func BenchmarkQueueSpill(b *testing.B) {
	const size = 1 << 20
	b.Run("impl=area", func(b *testing.B) { benchQueueConfig(b, 1, 1, size, 64<<20, queue.Config{Bytes: 64 << 10}, false) })
	b.Run("impl=files", func(b *testing.B) {
		benchQueueConfig(b, 1, 1, size, 64<<20, queue.Config{Bytes: 64 << 10, Spill: -1}, false)
	})
	b.Run("impl=inline", func(b *testing.B) { benchQueueConfig(b, 1, 1, size, 64<<20, queue.Config{Bytes: 8 << 20}, false) })
}
