//go:build !linux

package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/forkless-go/forkless/internal/errs"
)

// ErrAuthentication: the process at the other end of a Listener's socket
// runs as another user, so it was refused (Python's AuthenticationError).
var ErrAuthentication = errors.New("connection from another user refused")

func init() { errs.Register(ErrAuthentication) }

// Listener accepts connections from other processes at a named endpoint
// (Linux only: see listen_linux.go).
type Listener struct{}

// Listen fails outside Linux with an error wrapping errors.ErrUnsupported.
func Listen(addr string, c Config) (*Listener, error) {
	return nil, fmt.Errorf("listen %s: %w", addr, errors.ErrUnsupported)
}

// Addr returns "".
func (l *Listener) Addr() string { return "" }

// Close does nothing.
func (l *Listener) Close() error { return nil }

// Accept fails outside Linux with an error wrapping errors.ErrUnsupported.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	return nil, fmt.Errorf("accept: %w", errors.ErrUnsupported)
}

// Dial fails outside Linux with an error wrapping errors.ErrUnsupported.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	return nil, fmt.Errorf("dial %s: %w", addr, errors.ErrUnsupported)
}
