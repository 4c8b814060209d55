//go:build linux

package shmipcbench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cloudwego/shmipc-go"
	"github.com/forkless-go/forkless/spawn"
)

// The shmipc-go server child: SHMIPC_BENCH_ROLE is roleEcho or roleSink,
// SHMIPC_BENCH_SOCK the Unix socket to listen on, SHMIPC_BENCH_SIZE the
// message size. It writes one byte to stdout once it listens.
const (
	envRole  = "SHMIPC_BENCH_ROLE"
	envSock  = "SHMIPC_BENCH_SOCK"
	envSize  = "SHMIPC_BENCH_SIZE"
	roleEcho = "echo" // echo every SIZE-byte message
	roleSink = "sink" // read a count (8 bytes), then that many SIZE-byte messages, then answer one byte; count 0 ends
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		if err := server(role); err != nil && !errors.Is(err, shmipc.ErrEndOfStream) && !errors.Is(err, shmipc.ErrStreamClosed) {
			fmt.Fprintf(os.Stderr, "shmipc %s server: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	spawn.Main() // a forkless child runs its function here and exits
	os.Exit(m.Run())
}

// logLevelNone is shmipc-go's levelNoPrint (its levels are unexported).
const logLevelNone = 5

// config is shmipc-go's configuration for messages of size bytes: a memfd
// (no file in /dev/shm), room for many messages in flight, buffer slices of
// the message's size, as shmipc-go's own benchmarks choose them.
func config(size int) *shmipc.Config {
	c := shmipc.DefaultConfig()
	c.LogOutput = io.Discard
	c.InitializeTimeout = 30 * time.Second // a loaded machine may take seconds to set a session up
	c.MemMapType = shmipc.MemMapTypeMemFd
	c.QueueCap = 65536
	c.ShareMemoryBufferCap = 256 << 20
	c.BufferSliceSizes = []*shmipc.SizePercentPair{
		{Size: uint32(size) + 256, Percent: 70},
		{Size: 16 << 10, Percent: 20},
		{Size: 64 << 10, Percent: 10},
	}
	return c
}

func server(role string) error {
	shmipc.SetLogLevel(logLevelNone)
	size, err := strconv.Atoi(os.Getenv(envSize))
	if err != nil {
		return err
	}
	ln, err := net.Listen("unix", os.Getenv(envSock))
	if err != nil {
		return err
	}
	defer ln.Close()
	os.Stdout.Write([]byte{1}) // listening
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	sess, err := shmipc.Server(conn, config(size))
	if err != nil {
		return err
	}
	defer sess.Close()
	st, err := sess.AcceptStream()
	if err != nil {
		return err
	}
	defer st.Close()
	r, w := st.BufferReader(), st.BufferWriter()
	switch role {
	case roleEcho:
		for {
			msg, err := r.ReadBytes(size)
			if err != nil {
				return err
			}
			if _, err := w.WriteBytes(msg); err != nil {
				return err
			}
			r.ReleasePreviousRead()
			if err := flush(st); err != nil {
				return err
			}
		}
	case roleSink:
		for {
			hdr, err := r.ReadBytes(8)
			if err != nil {
				return err
			}
			n := binary.LittleEndian.Uint64(hdr)
			r.ReleasePreviousRead()
			if n == 0 {
				return nil
			}
			for range n {
				if _, err := r.Discard(size); err != nil {
					return err
				}
				r.ReleasePreviousRead()
			}
			if err := w.WriteByte(1); err != nil {
				return err
			}
			if err := flush(st); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

// flush sends what the stream's writer holds, waiting while shmipc-go's
// queue is full (as its own benchmarks do).
func flush(st *shmipc.Stream) error {
	for {
		err := st.Flush(false)
		if !errors.Is(err, shmipc.ErrQueueFull) {
			return err
		}
		time.Sleep(time.Microsecond)
	}
}

// shmipcClient starts a shmipc-go server child in role and returns a
// stream to it, and a function that ends both.
func shmipcClient(b *testing.B, role string, size int) (*shmipc.Stream, func()) {
	shmipc.SetLogLevel(logLevelNone)
	sock := filepath.Join(b.TempDir(), "shmipc.sock")
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"="+role, envSock+"="+sock, envSize+"="+strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ready, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(ready, make([]byte, 1)); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("shmipc server did not start: %v", err)
	}
	conf := shmipc.DefaultSessionManagerConfig()
	conf.Config = config(size)
	conf.Network, conf.Address = "unix", sock
	conf.SessionNum = 1
	sm, err := shmipc.NewSessionManager(conf)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("shmipc session: %v", err)
	}
	st, err := sm.GetStream()
	if err != nil {
		sm.Close()
		cmd.Process.Kill()
		cmd.Wait()
		b.Fatalf("shmipc stream: %v", err)
	}
	return st, func() {
		st.Close()
		sm.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// roundTrips times b.N calls of rt one by one and reports the percentiles,
// as ./bench's BenchmarkPingPong does.
func roundTrips(b *testing.B, rt func() error) {
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range lat {
		t0 := time.Now()
		if err := rt(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[min(int(q*float64(len(lat))), len(lat)-1)].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
	b.ReportMetric(at(0.999), "p999-ns")
}

// pingSize is the round trip's message: 64 bytes.
const pingSize = 64

// BenchmarkShmipcRoundTrip: see the package doc.
func BenchmarkShmipcRoundTrip(b *testing.B) {
	b.Run("impl=forkless", roundTripForkless)
	b.Run("impl=shmipc", func(b *testing.B) {
		st, stop := shmipcClient(b, roleEcho, pingSize)
		defer stop()
		msg := make([]byte, pingSize)
		r, w := st.BufferReader(), st.BufferWriter()
		rt := func() error {
			if _, err := w.WriteBytes(msg); err != nil {
				return err
			}
			if err := flush(st); err != nil {
				return err
			}
			got, err := r.ReadBytes(pingSize)
			if err != nil {
				return err
			}
			copy(msg, got)
			r.ReleasePreviousRead()
			return nil
		}
		if err := rt(); err != nil { // the server is up and echoing before the clock starts
			b.Fatal(err)
		}
		roundTrips(b, rt)
	})
}

// streamSizes are the one-way message sizes.
var streamSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}, {"1MiB", 1 << 20}}

// BenchmarkShmipcStream: see the package doc.
func BenchmarkShmipcStream(b *testing.B) {
	for _, sz := range streamSizes {
		b.Run("impl=forkless/size="+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			reportRate(b, streamForkless(b, sz.n))
		})
		b.Run("impl=shmipc/size="+sz.name, func(b *testing.B) {
			b.SetBytes(int64(sz.n))
			reportRate(b, streamShmipc(b, sz.n))
		})
	}
}

// streamShmipc sends b.N messages of size bytes to a sink server, one
// Flush each, and returns the time until the server said it had them all.
func streamShmipc(b *testing.B, size int) time.Duration {
	st, stop := shmipcClient(b, roleSink, size)
	defer stop()
	r, w := st.BufferReader(), st.BufferWriter()
	msg := make([]byte, size)
	batch := func(n int) error {
		var hdr [8]byte
		binary.LittleEndian.PutUint64(hdr[:], uint64(n))
		if _, err := w.WriteBytes(hdr[:]); err != nil {
			return err
		}
		if err := flush(st); err != nil {
			return err
		}
		for i := range n {
			msg[0] = byte(i)
			if _, err := w.WriteBytes(msg); err != nil {
				return fmt.Errorf("write message %d: %w", i, err)
			}
			if err := flush(st); err != nil {
				return fmt.Errorf("flush message %d: %w", i, err)
			}
		}
		if _, err := r.ReadByte(); err != nil {
			return fmt.Errorf("read the sink's answer: %w", err)
		}
		r.ReleasePreviousRead()
		return nil
	}
	if err := batch(1); err != nil { // the server is up and reading before the clock starts
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	if err := batch(b.N); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	batch(0)
	return elapsed
}

// reportRate reports msgs/s and ns/msg for b.N messages moved in elapsed.
func reportRate(b *testing.B, elapsed time.Duration) {
	if elapsed <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "ns/msg")
}
