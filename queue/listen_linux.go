package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/forkless-go/forkless/internal/errs"
	"github.com/forkless-go/forkless/internal/mapped"
	"github.com/forkless-go/forkless/shm"
)

// ErrAuthentication: the process at the other end of a Listener's socket
// runs as another user, so it was refused (Python's AuthenticationError).
var ErrAuthentication = errors.New("connection from another user refused")

func init() { errs.Register(ErrAuthentication) }

// Listener accepts connections from other processes, related or not, at a
// named endpoint: Python's multiprocessing.connection.Listener. The
// endpoint is a Unix socket file that only this user may use: made mode
// 0600 (in a private 0700 directory when Listen is given no address), and
// every connection's peer credentials are checked on both sides, so a
// process of another user is refused (ErrAuthentication) even if it got
// through the permissions. Each accepted connection gets a pipe of its own
// in a new anonymous region, whose descriptor travels over the socket:
// after the handshake the socket is closed and messages go through shared
// memory only.
type Listener struct {
	ln   *net.UnixListener
	addr string
	dir  string // made by Listen, removed by Close
	c    Config
}

// Listen makes the endpoint addr (a socket path; "" makes one in a new
// private directory, see Addr). c sizes each direction of every
// connection's pipe.
func Listen(addr string, c Config) (*Listener, error) {
	if _, err := connRegionSize(c); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	l := &Listener{addr: addr, c: c}
	if addr == "" {
		dir, err := os.MkdirTemp("", "forkless-listener-") // mode 0700
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		l.dir, l.addr = dir, filepath.Join(dir, "sock")
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: l.addr, Net: "unix"})
	if err == nil {
		err = os.Chmod(l.addr, 0o600)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		if l.dir != "" {
			os.RemoveAll(l.dir)
		}
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	l.ln = ln
	return l, nil
}

// Addr returns the endpoint's address, for Dial.
func (l *Listener) Addr() string { return l.addr }

// Close stops listening and removes the socket file (and the directory
// Listen made). Accepted connections are not affected.
func (l *Listener) Close() error {
	err := l.ln.Close()
	if l.dir != "" {
		os.RemoveAll(l.dir)
	}
	if err != nil {
		return fmt.Errorf("close listener: %w", err)
	}
	return nil
}

// Accept waits for the next connection until ctx is done and returns this
// side's end of its pipe, once the other process has bound its end. A
// connection from another user fails with ErrAuthentication (the listener
// stays open).
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	stop := context.AfterFunc(ctx, func() { l.ln.SetDeadline(time.Unix(1, 0)) })
	uc, err := l.ln.AcceptUnix()
	if !stop() {
		l.ln.SetDeadline(time.Time{})
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("accept: %w", err)
	}
	defer uc.Close()
	stopConn := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	defer stopConn()
	c, err := l.handshake(uc)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("accept: %w", err)
	}
	return c, nil
}

// handshake checks the peer, makes the connection's region and pipe, sends
// the peer its end and waits for its acknowledgement.
func (l *Listener) handshake(uc *net.UnixConn) (*Conn, error) {
	if err := checkPeer(uc); err != nil {
		return nil, err
	}
	size, _ := connRegionSize(l.c)
	r, err := shm.New(size)
	if err != nil {
		return nil, err
	}
	mine, theirs, err := NewPipe(r, l.c, true)
	if err == nil {
		h := theirs.Handle()
		_, _, err = uc.WriteMsgUnix(mapped.Bytes(&h), syscall.UnixRights(int(r.File().Fd())), nil)
	}
	var ack [1]byte
	if err == nil {
		_, err = uc.Read(ack[:])
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Conn{Pipe: mine, r: r}, nil
}

// Dial connects to the Listener at addr and returns this side's end of the
// connection's pipe: Python's multiprocessing.connection.Client(address).
// The listener must run as this user (ErrAuthentication otherwise).
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	uc := nc.(*net.UnixConn)
	defer uc.Close()
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := dialHandshake(uc)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

func dialHandshake(uc *net.UnixConn) (*Conn, error) {
	if err := checkPeer(uc); err != nil {
		return nil, err
	}
	var h PipeHandle
	hb := mapped.Bytes(&h)
	oob := make([]byte, syscall.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(hb, oob)
	if err != nil {
		return nil, err
	}
	f, err := receivedFile(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if n != len(hb) {
		f.Close()
		return nil, fmt.Errorf("handshake of %d bytes, want %d: %w", n, len(hb), ErrCorrupt)
	}
	r, err := shm.Attach(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := OpenPipe(h)
	if err == nil {
		_, err = uc.Write([]byte{1})
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Conn{Pipe: p, r: r}, nil
}

// receivedFile returns the one descriptor a handshake carries.
func receivedFile(oob []byte) (*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("handshake without a region descriptor (%v): %w", err, ErrCorrupt)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("handshake with %d descriptors (%v): %w", len(fds), err, ErrCorrupt)
	}
	syscall.CloseOnExec(fds[0])
	return os.NewFile(uintptr(fds[0]), "forkless-conn"), nil
}

// checkPeer refuses a peer that runs as another user (root included: it
// could have written the socket anyway, but nothing asks it to).
func checkPeer(uc *net.UnixConn) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer pid %d uid %d, this process uid %d: %w", cred.Pid, cred.Uid, os.Getuid(), ErrAuthentication)
	}
	return nil
}
