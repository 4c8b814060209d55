package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// TestDeferredReleaseWakesBlockedPut: a consumer's release does not wake a
// producer sleeping for room until an eighth of the ring can be handed
// back (release), yet a producer blocked on a full ring proceeds soon
// after a single Get makes room for its message, even when nothing is
// taken after it (putRecheck's deferredRecheck). With the idle period
// instead (1 s) the Put would miss the bound.
func TestDeferredReleaseWakesBlockedPut(t *testing.T) {
	q := deferRing(t)
	blockedWaitResumes(t, q, "Put", q.putBytes, func() error { _, err := q.tryGetAppend(nil); return err })
}

// blockedWaitResumes fills q, starts put(ctx, msg) on the full ring, waits
// until it sleeps on notFull, takes one message with take, checks that the
// release was deferred (less than an eighth of the ring handed back), and
// fails unless the blocked put returns within 500 ms.
func blockedWaitResumes(t *testing.T, q *records, what string, put func(context.Context, []byte) error, take func() error) {
	t.Helper()
	msg := make([]byte, 64)
	for {
		if err := q.tryPutBytes(msg); errors.Is(err, ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- put(ctx, msg) }()
	// Wait until the producer has announced its sleep on notFull.
	for !q.notFull.Sleepers() {
		select {
		case err := <-done:
			t.Fatalf("%s on a full ring returned %v before any take", what, err)
		case <-time.After(time.Millisecond):
		}
	}
	if err := take(); err != nil {
		t.Fatal(err)
	}
	if room := q.cap - (q.tail.Load() - q.freed.Load()); room >= q.cap/8 {
		t.Fatalf("release handed back %d bytes at once; the test wants a deferred one", room)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatalf("a %s blocked on a full ring still waits 500 ms after a take made room for it", what)
	}
}

// TestRoomRecheckBacksOff: a wait for room re-checks after 1 ms, then
// doubles the period up to putRecheck's (a second on an idle ring), so the
// room a stopped consumer left is found within about as long again as the
// producer had waited, and within a second.
func TestRoomRecheckBacksOff(t *testing.T) {
	q := deferRing(t)
	next := q.roomRecheck()
	want := deferredRecheck
	var waited time.Duration
	for range 20 {
		got := next()
		if got != want {
			t.Fatalf("after %v of waiting the period is %v, want %v", waited, got, want)
		}
		if got > waited+deferredRecheck {
			t.Fatalf("after %v of waiting the period is %v: longer than the wait so far", waited, got)
		}
		waited += got
		want = min(2*want, idleRecheck)
	}
	if want != idleRecheck {
		t.Fatalf("the period never reached %v", idleRecheck)
	}
}

// deferRing makes a 64 KiB record ring in a fresh region.
func deferRing(t *testing.T) *records {
	t.Helper()
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	q, err := newRecords(r, 1<<16, 0, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestDeferredReleaseWakesBlockedSend: the same for a Pipe's Send, which
// also sleeps for room at once (waitPeer): blocked on a full pipe, it
// proceeds soon after the receiver takes one message, nothing after it.
func TestDeferredReleaseWakesBlockedSend(t *testing.T) {
	r, err := shm.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	recv, send, err := NewPipe(r, Config{Bytes: 1 << 16}, false)
	if err != nil {
		t.Fatal(err)
	}
	blockedWaitResumes(t, send.send, "Send", send.Send, func() error {
		_, err := recv.Recv(context.Background())
		return err
	})
}
