// Command game-server is the tutorial's multi-process server: it accepts
// players on a TCP port and hands each connection to a new process, which
// plays a guessing game with it. Python passes the socket to a Process;
// here the connection is the child's argument and arrives as a net.Conn.
//
//	go run ./examples/game-server                        # serves 3 games to its own players, then exits
//	go run ./examples/game-server -addr 127.0.0.1:7000 -games 0   # serves forever: nc 127.0.0.1 7000
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/forkless-go/forkless/spawn"
)

// play runs in a child process, one per connection: the player guesses a
// number from 1 to 100 and hears "higher" or "lower" until right.
var play = spawn.Register("main.play", func(ctx context.Context, conn net.Conn) (int, error) {
	defer conn.Close()
	secret := rand.IntN(100) + 1
	fmt.Fprintf(conn, "guess a number from 1 to 100\n")
	in := bufio.NewScanner(conn)
	for tries := 1; in.Scan(); tries++ {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		switch {
		case err != nil:
			fmt.Fprintf(conn, "not a number\n")
		case n < secret:
			fmt.Fprintf(conn, "higher\n")
		case n > secret:
			fmt.Fprintf(conn, "lower\n")
		default:
			fmt.Fprintf(conn, "correct after %d tries, served by pid %d\n", tries, os.Getpid())
			return tries, nil
		}
	}
	return 0, fmt.Errorf("player left: %v", in.Err())
})

func main() {
	spawn.Main()
	addr := flag.String("addr", "", "listen there and wait for players (default: 127.0.0.1, any port, with 3 players of our own)")
	games := flag.Int("games", 3, "serve this many games, then exit (0: serve forever)")
	flag.Parse()

	listen := *addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	fmt.Println("listening on", l.Addr())
	if *addr == "" {
		for range *games {
			go func() {
				if _, err := Player(l.Addr().String()); err != nil {
					log.Print(err)
				}
			}()
		}
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 1; *games == 0 || i <= *games; i++ {
		conn, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		p, err := play.Start(ctx, conn, spawn.Name(fmt.Sprint("game-", i)))
		conn.Close() // the child has the connection now
		if err != nil {
			log.Print(err)
			continue
		}
		wg.Go(func() {
			tries, err := p.Wait(ctx)
			if err != nil {
				fmt.Printf("%s (pid %d): %v\n", p.Name(), p.Pid(), err)
				return
			}
			fmt.Printf("%s (pid %d): won in %d tries\n", p.Name(), p.Pid(), tries)
		})
	}
	wg.Wait()
}

// Player plays one game at addr by bisection and returns the server's
// last line.
func Player(addr string) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	in := bufio.NewScanner(conn)
	lo, hi := 1, 100
	for in.Scan() {
		switch line := in.Text(); {
		case strings.HasPrefix(line, "correct"):
			return line, nil
		case line == "higher":
			lo = (lo+hi)/2 + 1
		case line == "lower":
			hi = (lo+hi)/2 - 1
		}
		fmt.Fprintf(conn, "%d\n", (lo+hi)/2)
	}
	return "", fmt.Errorf("server left: %v", in.Err())
}
