//go:build linux

package bench

import (
	"io"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// pingSize is the ping-pong message: 64 bytes, one cache line.
const pingSize = 64

// BenchmarkPingPong sends a 64-byte message to an echoing peer and waits for
// the echo, b.N times. It reports the mean round trip (ns/op) and its p50,
// p99 and p999 (p50-ns, p99-ns, p999-ns). Names:
// PingPong/impl=forkless|event|futex|chan|pipe|unix (forkless: a duplex
// queue.Pipe; event: a pair of sync.Events, no data; futex: a bare futex
// ping-pong on two shared words, no spin, no data).
func BenchmarkPingPong(b *testing.B) {
	b.Run("impl=forkless", pingPongForkless)
	b.Run("impl=event", pingPongEvent)
	b.Run("impl=futex", pingPongFutex)
	b.Run("impl=chan", func(b *testing.B) {
		ping, pong := make(chan [pingSize]byte), make(chan [pingSize]byte)
		go func() {
			for m := range ping {
				pong <- m
			}
		}()
		defer close(ping)
		var msg [pingSize]byte
		roundTrips(b, func() {
			ping <- msg
			msg = <-pong
		})
	})
	b.Run("impl=pipe", func(b *testing.B) {
		toR, toW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		fromR, fromW, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		pingPongProcess(b, toR, toW, fromR, fromW)
	})
	b.Run("impl=unix", func(b *testing.B) {
		mine, theirs := socketpair(b, syscall.SOCK_STREAM)
		pingPongProcess(b, theirs, mine, mine, theirs)
	})
}

// pingPongProcess starts an echo child reading childIn and writing
// childOut, and times round trips through w (to the child) and r (back).
func pingPongProcess(b *testing.B, childIn, w, r, childOut *os.File) {
	cmd := startChild(b, roleEcho, pingSize, 0, childIn, childOut)
	childIn.Close()
	if childOut != childIn {
		childOut.Close()
	}
	buf := make([]byte, pingSize)
	var failed error
	roundTrip := func() {
		if failed != nil {
			return
		}
		if _, err := w.Write(buf); err != nil {
			failed = err
			return
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			failed = err
		}
	}
	roundTrip() // the child is up and echoing before the clock starts
	roundTrips(b, roundTrip)
	w.Close()
	if r != w {
		r.Close()
	}
	if err := cmd.Wait(); err != nil {
		b.Errorf("echo child: %v", err)
	}
	if failed != nil {
		b.Fatal(failed)
	}
}

// roundTrips times b.N calls of rt one by one and reports the percentiles.
// time.Now costs tens of nanoseconds, which the mean (ns/op) and the
// percentiles both include; it is small next to a cross-process round trip.
func roundTrips(b *testing.B, rt func()) {
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range lat {
		t0 := time.Now()
		rt()
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// reportPercentiles reports p50, p99 and p999 of lat in ns.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		i := int(q * float64(len(lat)))
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return float64(lat[i].Nanoseconds())
	}
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
	b.ReportMetric(at(0.999), "p999-ns")
}
