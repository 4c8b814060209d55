//go:build linux

package spawn_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forkless-go/forkless/spawn"
)

var readFile = spawn.Register("spawn.readFile", func(ctx context.Context, f *os.File) (string, error) {
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	return string(b), err
})

// TestFileTravels: an *os.File as the argument reaches the child as an
// *os.File on the same open file.
func TestFileTravels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f, err := os.Create(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("from the parent")
	got, err := readFile.Run(ctx, f)
	if err != nil || got != "from the parent" {
		t.Fatalf("got %q, %v", got, err)
	}
}

type connArg struct {
	Conn     net.Conn
	Greeting string
	Log      *os.File // nil: travels as nil
}

var greetConn = spawn.Register("spawn.greetConn", func(ctx context.Context, a connArg) (string, error) {
	defer a.Conn.Close()
	if a.Log != nil {
		return "", io.ErrUnexpectedEOF
	}
	if _, err := a.Conn.Write([]byte(a.Greeting + "\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(a.Conn).ReadString('\n')
	return strings.TrimSpace(line) + " via " + a.Conn.LocalAddr().Network(), err
})

var serveOne = spawn.Register("spawn.serveOne", func(ctx context.Context, l *net.TCPListener) (string, error) {
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		return "", err
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	_, err = c.Write([]byte(strings.ToUpper(line)))
	return strings.TrimSpace(line), err
})

// TestConnAndListenerTravel: a net.Conn as a field of a struct argument
// and a *net.TCPListener as the argument reach the child typed, and work
// there after the parent closed its copies.
func TestConnAndListenerTravel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	p, err := greetConn.Start(ctx, connArg{Conn: server, Greeting: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	server.Close() // the parent's copy; the child's stays open
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("from the child: %q, %v", line, err)
	}
	client.Write([]byte("bye\n"))
	if got, err := p.Wait(ctx); err != nil || got != "bye via tcp" {
		t.Fatalf("child: %q, %v", got, err)
	}

	p2, err := serveOne.Start(ctx, l.(*net.TCPListener))
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the parent's copy: the child still listens
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "PING\n" {
		t.Fatalf("served: %q, %v", line, err)
	}
	if got, err := p2.Wait(ctx); err != nil || got != "ping" {
		t.Fatalf("child: %q, %v", got, err)
	}
}
