// Command prime-tester is the interactive prime tester of the classic
// multiprocessing tutorials: type numbers, one per line, and each is tested
// in a process of its own while you go on typing. The processes share one
// lock for their output (a forkless sync.Mutex in shared memory), so no
// two answers ever mix on the screen. End the input (Ctrl-D) to wait for
// the last answers and quit.
//
//	go run ./examples/prime-tester
//	echo "97 1000003 2147483647 600851475143" | go run ./examples/prime-tester
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/forkless-go/forkless/shm"
	"github.com/forkless-go/forkless/spawn"
	fsync "github.com/forkless-go/forkless/sync"
)

type question struct {
	N    uint64
	Lock shm.Handle // the output lock
}

// test runs in a child: trial division, then the answer printed under the
// shared lock.
var test = spawn.Register("main.test", func(ctx context.Context, q question) (bool, error) {
	lock, err := fsync.OpenMutex(q.Lock)
	if err != nil {
		return false, err
	}
	prime, factor := q.N >= 2, uint64(0)
	for d := uint64(2); d*d <= q.N; d++ {
		if q.N%d == 0 {
			prime, factor = false, d
			break
		}
	}
	if err := lock.LockContext(ctx); err != nil {
		return false, err // fsync.ErrOwnerDead would mean a tester died holding it
	}
	defer lock.Unlock()
	me := spawn.CurrentProcess()
	switch {
	case prime:
		fmt.Printf("%d is prime (pid %d)\n", q.N, me.Pid)
	case factor != 0:
		fmt.Printf("%d is not prime: %d × %d (pid %d)\n", q.N, factor, q.N/factor, me.Pid)
	default:
		fmt.Printf("%d is not prime (pid %d)\n", q.N, me.Pid)
	}
	return prime, nil
})

func main() {
	spawn.Main()

	region, err := shm.New(4096)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()
	lock, err := fsync.NewMutex(region)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fmt.Fprintln(os.Stderr, "numbers to test, one or more per line; Ctrl-D to finish:")
	var testers []*spawn.Process[bool]
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		for _, word := range strings.Fields(sc.Text()) {
			n, err := strconv.ParseUint(word, 10, 64)
			if err != nil {
				lock.Lock()
				fmt.Printf("%q is not a number\n", word)
				lock.Unlock()
				continue
			}
			p, err := test.Start(ctx, question{N: n, Lock: lock.Handle()}, spawn.Share(region))
			if err != nil {
				log.Fatal(err)
			}
			testers = append(testers, p)
		}
	}
	primes := 0
	for _, p := range testers {
		prime, err := p.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if prime {
			primes++
		}
	}
	fmt.Printf("%d numbers tested in %d processes, %d prime\n", len(testers), len(testers), primes)
}
