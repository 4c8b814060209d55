package cluster

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server with JetStream embedded in this process: what
// Dial starts when it is given no URL or connection. A program that is the
// hub of a small cluster may start one itself and give its URL to the
// nodes.
type Server struct {
	s    *server.Server
	addr string
	dir  string
}

// StartServer starts an embedded NATS server with JetStream listening on
// addr ("127.0.0.1:4222"; port 0 picks a free one), storing its streams in
// dir (file storage: they survive a restart on the same dir).
func StartServer(addr, dir string) (*Server, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("start nats server: port %q: %w", port, err)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host: host, Port: p, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
		DisableJetStreamBanner: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats server on %s: not ready after 30s", addr)
	}
	return &Server{s: s, addr: s.Addr().String(), dir: dir}, nil
}

// URL returns the URL clients and nodes connect to.
func (s *Server) URL() string { return s.s.ClientURL() }

// Addr returns the address it listens on (host:port), for a restart on the
// same address.
func (s *Server) Addr() string { return s.addr }

// Shutdown stops the server and waits until it has.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
