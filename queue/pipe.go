package queue

import (
	"context"
	"errors"
	"fmt"
	"github.com/forkless-go/forkless/internal/event"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forkless-go/forkless/shm"
)

// Pipe is one end of a message pipe between two processes, Python's
// multiprocessing.Pipe: Send and Recv move whole messages (any length from
// 0 bytes, large ones through spill regions as in Queue), Poll waits for
// one with a timeout, and the end is also an io.ReadWriteCloser (Write
// sends one message; Read reads the incoming messages as a byte stream).
//
// Each direction is a record ring (KindRecords). A duplex pipe has two, a
// one-way pipe one: its first end only receives, its second only sends.
// Each end records its process in its rings' writer/reader words, so that
// a Recv (or a Send waiting for room) notices when the process at the
// other end has died and reports ErrPeerDied (wrapping ErrClosed; Read
// returns io.EOF) instead of waiting forever.
//
// An end is safe for concurrent use, but a pipe is a conversation between
// two parties: with several readers on one end, each message still goes to
// exactly one of them, and Read's stream is shared.
type Pipe struct {
	_          recNoCopy
	h          PipeHandle
	send, recv *records

	rmu  sync.Mutex // Read's leftover
	rbuf []byte
	roff int

	closed atomic.Bool
	// handedOn: Handle was taken (the end is going to another process);
	// used: this process sent, received or polled on it. Close of an end
	// handed on and never used releases only this process's copy.
	handedOn, used atomic.Bool
}

// use marks the end used by this process (a load first: the hot path
// stores once) and reports whether it was closed or released here.
func (p *Pipe) use() error {
	if !p.used.Load() {
		p.used.Store(true)
	}
	if p.closed.Load() {
		return fmt.Errorf("pipe end closed in this process: %w", ErrClosed)
	}
	return nil
}

// PipeHandle names one end of a pipe for OpenPipe in another process. It
// is fixed-size and pointer-free, so it travels as a spawn argument.
type PipeHandle struct {
	Send shm.Handle // the ring this end writes; zero for a receive-only end
	Recv shm.Handle // the ring this end reads; zero for a send-only end
}

// NewPipe allocates a pipe in r and returns its two ends, as Python's
// Pipe(duplex) does. c sizes each direction. With duplex false, the first
// end can only receive and the second only send. A nil r gives the pipe a
// region of its own (see Pipe.Region).
func NewPipe(r *shm.Region, c Config, duplex bool) (*Pipe, *Pipe, error) {
	r, undo, err := ownRegion(r, c)
	if err != nil {
		return nil, nil, fmt.Errorf("new pipe: %w", err)
	}
	ab, err := newQueueRecords(r, c, 0, 0, 0)
	if err != nil {
		undo()
		return nil, nil, fmt.Errorf("new pipe: %w", err)
	}
	var ba *records
	if duplex {
		if ba, err = newQueueRecords(r, c, 0, 0, 0); err != nil {
			undo()
			return nil, nil, fmt.Errorf("new pipe: %w", err)
		}
	}
	// One-way: the first end receives on ab, the second sends on it.
	var a, b *Pipe
	if duplex {
		a = pipeEnd(ab, ba)
		b = pipeEnd(ba, ab)
	} else {
		a = pipeEnd(nil, ab)
		b = pipeEnd(ab, nil)
	}
	return a, b, nil
}

// OpenPipe binds a pipe end in this process (usually a child's, from the
// handle its parent passed).
func OpenPipe(h PipeHandle) (*Pipe, error) {
	var send, recv *records
	var err error
	if h.Send.IsZero() && h.Recv.IsZero() {
		return nil, fmt.Errorf("open pipe: empty handle: %w", shm.ErrHandle)
	}
	if !h.Send.IsZero() {
		if send, err = openRecords(h.Send); err != nil {
			return nil, fmt.Errorf("open pipe: %w", err)
		}
	}
	if !h.Recv.IsZero() {
		if recv, err = openRecords(h.Recv); err != nil {
			return nil, fmt.Errorf("open pipe: %w", err)
		}
	}
	return pipeEnd(send, recv), nil
}

func pipeEnd(send, recv *records) *Pipe {
	p := &Pipe{send: send, recv: recv}
	// Announce this process as the ring's writer / reader (a plain store:
	// the last opener owns the end; the peer only reads it for liveness).
	if send != nil {
		p.h.Send = send.b.Handle()
		send.h.writer.Store(send.me)
	}
	if recv != nil {
		p.h.Recv = recv.b.Handle()
		recv.h.reader.Store(recv.me)
		// A conversation: the answer may take a woken peer tens of µs.
		recv.notEmpty.SetSpinMax(event.SpinTalk)
	}
	return p
}

// Handle names this end for OpenPipe in another process. Taking it marks
// the end as handed on: see Close.
func (p *Pipe) Handle() PipeHandle {
	if !p.handedOn.Load() {
		p.handedOn.Store(true)
	}
	return p.h
}

// waitPeer waits on ec until ready reports true (nil, false) or ctx is
// done (its error), and every idleRecheck of waiting checks whether the
// process at the other end of q (the owner word peer: the writer when
// receiving, the reader when sending) has died (nil, true). The check is
// off the spinning path, and costs nothing in between: the sleep is one
// futex wait of up to recheck() (recoverEvery only while a record's owner
// may die unseen, idleRecheck otherwise), cut short by a notification or
// by ctx, so an idle end wakes about once a second. The peer's exit itself
// wakes it at once where pidfds exist (peerWatch, which touches the ring
// only while a waiter is in here); the periodic check is the fallback.
func (q *records) waitPeer(ctx context.Context, ec event.Count, peer *atomic.Uint64, recheck func() time.Duration, ready func() bool) (bool, error) {
	// First, for a message, the event count's adaptive spin, with no
	// context to make: in a conversation the answer usually comes within
	// it (both sides catch each other spinning, well under a microsecond a
	// hop) while spinning pays; on a machine where it does not, the budget
	// shrinks and the wait goes to sleep at once. A wait for room sleeps at
	// once, as a Queue's Put does (waitRoom says why): the reader hands
	// room back an eighth of the ring at a time (BenchmarkPipeStream +20%).
	forRoom := ec == q.notFull
	if !forRoom && ec.Spin(ready) {
		return false, nil
	}
	dead := false
	due := time.Now().Add(idleRecheck)
	q.peer.enter(q, peer.Load())
	defer q.peer.leave()
	woken := func() bool {
		if ready() {
			return true
		}
		if now := time.Now(); !now.Before(due) || q.peer.diedMaybe() { // diedMaybe: confirmed below
			due = now.Add(idleRecheck)
			if w := peer.Load(); w != 0 && w != q.me && !ownerAlive(w) {
				dead = true
				return true
			}
		}
		return false
	}
	next := func() time.Duration { return max(min(recheck(), time.Until(due)), time.Millisecond) }
	if err := ec.SleepFor(ctx, next, woken); err != nil {
		return false, err
	}
	return dead, nil
}

var errPeerDied = fmt.Errorf("%w: %w", ErrPeerDied, ErrClosed)

// Send sends msg as one message, waiting for room until ctx is done. It
// fails with ErrClosed once either end closed the pipe, ErrPeerDied when
// the receiving process died.
func (p *Pipe) Send(ctx context.Context, msg []byte) error {
	q := p.send
	if q == nil {
		return fmt.Errorf("send: receive-only pipe end: %w", ErrClosed)
	}
	if err := p.use(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if err := q.checkMsgLen(len(msg)); err != nil {
		return err
	}
	for {
		err := q.tryPutBytes(msg)
		if !errors.Is(err, ErrFull) {
			return err
		}
		span := recSpan(min(len(msg), spillPayload))
		if len(msg) <= q.maxInline() {
			span = recSpan(len(msg))
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		dead, err := q.waitPeer(ctx, q.notFull, &q.h.reader, q.roomRecheck(), func() bool { return q.roomFor(span) })
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if dead {
			return fmt.Errorf("send: %w", errPeerDied)
		}
	}
}

// Recv receives the next message, waiting until ctx is done. It fails with
// ErrClosed once the pipe is closed and drained, ErrPeerDied (also
// ErrClosed) when the sending process died and nothing is left.
func (p *Pipe) Recv(ctx context.Context) ([]byte, error) {
	return p.AppendRecv(ctx, nil)
}

// AppendRecv is Recv appending the message to dst.
func (p *Pipe) AppendRecv(ctx context.Context, dst []byte) ([]byte, error) {
	q := p.recv
	if q == nil {
		return dst, fmt.Errorf("recv: send-only pipe end: %w", ErrClosed)
	}
	if err := p.use(); err != nil {
		return dst, fmt.Errorf("recv: %w", err)
	}
	for {
		b, err := q.tryGetAppend(dst)
		if !errors.Is(err, ErrEmpty) {
			return b, err
		}
		if err := ctx.Err(); err != nil {
			return dst, fmt.Errorf("recv: %w", err)
		}
		dead, err := q.waitPeer(ctx, q.notEmpty, &q.h.writer, q.takeRecheck, q.readable)
		if err != nil {
			return dst, fmt.Errorf("recv: %w", err)
		}
		if dead && !q.readable() {
			return dst, fmt.Errorf("recv: %w", errPeerDied)
		}
	}
}

// Poll reports whether a message (or the end of the stream) is ready to
// Recv, waiting up to timeout (0: just look; negative: forever).
func (p *Pipe) Poll(timeout time.Duration) (bool, error) {
	q := p.recv
	if q == nil {
		return false, fmt.Errorf("poll: send-only pipe end: %w", ErrClosed)
	}
	if err := p.use(); err != nil {
		return false, fmt.Errorf("poll: %w", err)
	}
	if q.readable() || p.readBuffered() {
		return true, nil
	}
	if timeout == 0 {
		return false, nil
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	_, err := q.waitPeer(ctx, q.notEmpty, &q.h.writer, q.takeRecheck, q.readable)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, fmt.Errorf("poll: %w", err)
	}
	return true, nil
}

func (p *Pipe) readBuffered() bool {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	return p.roff < len(p.rbuf)
}

// Write sends b as one message (io.Writer). It blocks until there is room.
func (p *Pipe) Write(b []byte) (int, error) {
	if err := p.Send(context.Background(), b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Read reads the incoming messages as one byte stream (io.Reader): a
// message longer than b is returned over several Reads. It returns io.EOF
// once the pipe is closed (or the peer died) and drained.
func (p *Pipe) Read(b []byte) (int, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	for p.roff >= len(p.rbuf) {
		m, err := p.AppendRecv(context.Background(), p.rbuf[:0])
		if errors.Is(err, ErrClosed) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		p.rbuf, p.roff = m, 0
		if len(b) == 0 {
			return 0, nil
		}
	}
	n := copy(b, p.rbuf[p.roff:])
	p.roff += n
	return n, nil
}

// Close closes both directions for both ends: the peer's Recv drains what
// was sent and then gets ErrClosed (Read: io.EOF), its Send fails with
// ErrClosed. Closing twice returns ErrClosed.
//
// An end this process handed on (its Handle was taken, to pass it to a
// child, say) and never used itself, or that another process has opened
// since (it holds the end now), is only released here: this process's
// copy fails with ErrClosed from then on and the pipe stays open for the
// process that holds the end. That is Python's child_conn.close() after
// p.start(). An end handed on that no process ever opens then leaves its
// peer waiting until its context ends (Python's peer would see EOF).
func (p *Pipe) Close() error {
	if p.closed.Swap(true) {
		return fmt.Errorf("close pipe: %w", ErrClosed)
	}
	if p.heldElsewhere() {
		return nil
	}
	for _, q := range []*records{p.send, p.recv} {
		if q != nil {
			q.close() //nolint:errcheck // the peer may have closed it first
			q.peer.end()
		}
	}
	return nil
}

var _ io.ReadWriteCloser = (*Pipe)(nil)

// heldElsewhere reports whether closing p must release only this process's
// copy: the end was handed on and never used here, or another process has
// opened it since (the end's owner words name that process).
func (p *Pipe) heldElsewhere() bool {
	if p.handedOn.Load() && !p.used.Load() {
		return true
	}
	for _, w := range []*atomic.Uint64{p.sendOwner(), p.recvOwner()} {
		if w != nil {
			if o := w.Load(); o != 0 && o != p.me() {
				return true
			}
		}
	}
	return false
}

func (p *Pipe) sendOwner() *atomic.Uint64 {
	if p.send == nil {
		return nil
	}
	return &p.send.h.writer
}

func (p *Pipe) recvOwner() *atomic.Uint64 {
	if p.recv == nil {
		return nil
	}
	return &p.recv.h.reader
}

func (p *Pipe) me() uint64 {
	if p.send != nil {
		return p.send.me
	}
	return p.recv.me
}
